// goproxydir writes a Go module directory as one version of that module in a GOPROXY directory
// (the layout `go` reads from GOPROXY=file:///path): <module>/@v/list, <version>.info,
// <version>.mod and <version>.zip. The zip is made by golang.org/x/mod/zip, the code the go
// command uses, so it follows the same rules (file names, sizes, no symbolic links) as a module
// fetched from a VCS tag.
//
//	go run ./tools/goproxydir -dir dist/go -version v0.2.0 -out dist/goproxy
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

func main() {
	dir := flag.String("dir", "", "module directory (holds go.mod)")
	version := flag.String("version", "", "module version, e.g. v0.2.0")
	out := flag.String("out", "", "GOPROXY directory to write into")
	flag.Parse()
	if *dir == "" || *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*dir, *version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "goproxydir:", err)
		os.Exit(1)
	}
}

func write(dir, version, out string) error {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	path := modfile.ModulePath(gomod)
	mv := module.Version{Path: path, Version: version}
	if err := module.Check(path, version); err != nil {
		return err
	}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	at := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	zf, err := os.Create(filepath.Join(at, version+".zip"))
	if err != nil {
		return err
	}
	if err := zip.CreateFromDir(zf, mv, dir); err != nil {
		zf.Close()
		return err
	}
	if err := zf.Close(); err != nil {
		return err
	}
	// The time a proxy reports for the version; SOURCE_DATE_EPOCH keeps it reproducible.
	when := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil {
			when = time.Unix(sec, 0).UTC()
		}
	}
	info, _ := json.Marshal(struct{ Version, Time string }{version, when.Format(time.RFC3339)})
	for name, data := range map[string][]byte{
		version + ".info": info,
		version + ".mod":  gomod,
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Println(filepath.Join(at, version+".zip"))
	return nil
}
