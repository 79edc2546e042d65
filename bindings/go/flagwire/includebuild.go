//go:build includebuild

package flagwire

// Never built (no one sets the includebuild tag). `go mod vendor` copies only the directories of
// imported packages (golang/go#26366), so without these blank imports a vendored copy of this
// module would lose build/: the header and the static libraries cgo links. Each directory holds
// an empty.go to be a package. wasmtime-go does the same.
import (
	_ "github.com/flagwire/flagwire/bindings/go/flagwire/build/include"
	_ "github.com/flagwire/flagwire/bindings/go/flagwire/build/linux-aarch64"
	_ "github.com/flagwire/flagwire/bindings/go/flagwire/build/linux-x86_64"
	_ "github.com/flagwire/flagwire/bindings/go/flagwire/build/macos-aarch64"
	_ "github.com/flagwire/flagwire/bindings/go/flagwire/build/macos-x86_64"
)
