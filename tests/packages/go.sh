#!/usr/bin/env bash
# The Go module from dist/goproxy, fetched as `go get` fetches any module (GOPROXY=file://...;
# its own module cache, nothing from the repository): the README's quickstart (the real Optimizely
# go-sdk v2.3.1, offline datafile) builds, links the static library the module carries, and
# delivers exactly the SDK's experiment decisions. Then `go mod vendor` keeps build/ and the
# vendored build delivers too; and a release without this platform's library fails to compile
# with no_library.go's message.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
module=github.com/flagwire/flagwire/bindings/go
# Dependencies (go-sdk) come from the machine's module cache when it has them, else the network;
# flagwire only from dist/. It is not in the public checksum database: GONOSUMDB.
shared_cache="$(go env GOMODCACHE)/cache/download"
export GOMODCACHE="$WORK/modcache" GOFLAGS=-modcacherw GONOSUMDB=github.com/flagwire/flagwire
export GOPROXY="file://$DIST/goproxy,file://$shared_cache,$(go env GOPROXY)"
export CGO_ENABLED=1

mkdir "$WORK/app" && cd "$WORK/app"
go mod init example.com/app >/dev/null 2>&1
cp "$REPO/bindings/go/examples/quickstart/main.go" .   # the README's example, unchanged
go get "$module/flagwire@v$VERSION" 2>&1 | grep -E "flagwire|go-sdk" || true
go mod tidy >/dev/null 2>&1
dir="$(go list -f '{{.Dir}}' "$module/flagwire")"
echo "package dir: $dir"
expect_match "^$WORK/modcache/" "$dir" "the package comes from the module cache"
expect_match "build/linux-x86_64/libflagwire.a" "$(go list -f '{{.CgoLDFLAGS}}' "$module/flagwire")" "cgo links the module's own archive"
go build -o quickstart .
if ldd quickstart | grep -q libflagwire; then echo "FAIL: the binary needs a libflagwire.so" >&2; exit 1; fi

start_collector
run_quickstart() {
  local out expected
  out="$("$1" -endpoint "$COLLECTOR_URL" -datafile "$DATAFILE" -users 40)"
  # The SDK's own decisions: users whose rule is the experiment's are the exposures expected.
  expected="$(sed -n 's/^\(user-[0-9]*\): flag=checkout_flow rule="checkout_ab" variation="\([a-z]*\)".*/\1=\2/p' <<<"$out" | paste -sd,)"
  echo "$(grep -c '^user-' <<<"$out") decisions: $(grep -o 'decisions=.*' <<<"$out")"
  expect_exposures "$expected" 1   # + the quickstart's "Order Completed"
}
run_quickstart ./quickstart

echo "== go mod vendor"
go mod vendor
ls "vendor/$module/flagwire/build/linux-x86_64/libflagwire.a" "vendor/$module/flagwire/build/include/flagwire.h"
go build -mod=vendor -o quickstart-vendored .
reset_collector
run_quickstart ./quickstart-vendored

echo "== a release without this platform's library"
cp -r "$dir" "$WORK/no-library" && chmod -R u+w "$WORK/no-library"
rm "$WORK/no-library/build/linux-x86_64/libflagwire.a"
"$REPO/scripts/package/go-platform-guard.sh" "$WORK/no-library"
go mod edit -replace "$module=$WORK/no-library-module"
mkdir "$WORK/no-library-module" && mv "$WORK/no-library" "$WORK/no-library-module/flagwire"
cp "$(dirname "$dir")/go.mod" "$WORK/no-library-module/" && chmod u+w "$WORK/no-library-module/go.mod"
if out="$(go build -mod=mod -o /dev/null . 2>&1)"; then echo "FAIL: built without a library" >&2; exit 1; fi
echo "$out"
expect_match "no_library.go:.*undefined: flagwire_has_no_prebuilt_library_for_this_GOOS_GOARCH" "$out" "the build error names the problem"
echo "Go module: OK"
