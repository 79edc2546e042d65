//go:build !flagwire_dynamic

package flagwire

// Default: link the Rust staticlib built in this repository (cargo build --release -p flagwire).
// The resulting Go binary carries the library: no .so to ship, no rpath, no LD_LIBRARY_PATH.
// To link a library from elsewhere, build with -tags flagwire_dynamic (see link_dynamic.go).

// #cgo linux LDFLAGS: ${SRCDIR}/../../target/release/libflagwire.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
// #cgo darwin LDFLAGS: ${SRCDIR}/../../target/release/libflagwire.a -lpthread -lm -ldl
import "C"
