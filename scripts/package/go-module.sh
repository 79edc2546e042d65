#!/usr/bin/env bash
# The Go module, ready to publish, in two forms:
#   DIST/go/       the module tree: what a release tag (bindings/go/vVERSION) holds, with the
#                  header and this platform's stripped libflagwire.a as real files under
#                  flagwire/build/ (in the repository they are links to include/ and target/)
#   DIST/goproxy/  the same as a GOPROXY directory (list, .info, .mod, .zip made by
#                  golang.org/x/mod/zip), for GOPROXY=file://... or a private module proxy
# Only what users build goes in: no tests, benchmarks or scripts (they need the repository).
# no_library.go's build line is rewritten to list the platforms this release carries, so any
# other platform fails to compile with a readable message. go.mod is tidied for that content
# (the benchmark's analytics-go requirement drops out).
# Usage: go-module.sh DIST VERSION  (after cargo build --release -p flagwire)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/platform.sh"
dist="$1" version="$2"
src="$repo/bindings/go"
out="$dist/go"
rm -rf "$out" "$dist/goproxy"
mkdir -p "$out/flagwire"

cp "$src/go.mod" "$src/go.sum" "$src/README.md" "$out/"
cp -r "$src/examples" "$out/"
for f in "$src"/flagwire/*.go; do
  [[ "$f" == *_test.go ]] || cp "$f" "$out/flagwire/"
done
# build/: every platform directory keeps its empty.go (includebuild.go imports them all); only
# this platform's holds a library.
(cd "$src/flagwire" && find build -name empty.go) | while read -r f; do
  mkdir -p "$out/flagwire/$(dirname "$f")"
  cp "$src/flagwire/$f" "$out/flagwire/$f"
done
cp "$repo/include/flagwire.h" "$out/flagwire/build/include/"
cp "$repo/target/release/libflagwire.a" "$out/flagwire/build/$FW_PLATFORM_GO/"
strip --strip-debug "$out/flagwire/build/$FW_PLATFORM_GO/libflagwire.a"
"$here/go-platform-guard.sh" "$out/flagwire"

# Tidy for the files shipped; the module cache already holds what the repository's module needs.
(cd "$out" && go mod tidy)
grep -q "ModuleVersion = \"$version\"" "$out/flagwire/version.go" || { echo "go-module.sh: ModuleVersion is not $version" >&2; exit 1; }

(cd "$repo/tools/goproxydir" && go run . -dir "$out" -version "v$version" -out "$dist/goproxy")
