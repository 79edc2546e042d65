//go:build !flagwire_dynamic

package flagwire

// Default: link the static library of this platform from build/<os>-<arch>/, inside this package
// (as wasmtime-go does), so the module builds wherever it is: a checkout, the module cache, a
// vendor directory. The Go binary then carries the library: no .so to ship, no rpath, no
// LD_LIBRARY_PATH. In a release of the module these are real files (scripts/package.sh puts
// them there); in the repository they are symbolic links to target/release/libflagwire.a, so
// `cargo build --release -p flagwire` is all a checkout needs. Platforms without a library in
// this release fail to compile with a readable message (no_library.go). To link a library from
// elsewhere, build with -tags flagwire_dynamic (see link_dynamic.go).

// #cgo linux,amd64 LDFLAGS: ${SRCDIR}/build/linux-x86_64/libflagwire.a
// #cgo linux,arm64 LDFLAGS: ${SRCDIR}/build/linux-aarch64/libflagwire.a
// #cgo darwin,amd64 LDFLAGS: ${SRCDIR}/build/macos-x86_64/libflagwire.a
// #cgo darwin,arm64 LDFLAGS: ${SRCDIR}/build/macos-aarch64/libflagwire.a
// #cgo linux LDFLAGS: -lgcc_s -lutil -lrt -lpthread -lm -ldl
// #cgo darwin LDFLAGS: -lpthread -lm -ldl
import "C"
