//go:build flagwire_dynamic

package flagwire

// -tags flagwire_dynamic: link -lflagwire from the linker's search path. Point it at the library
// with CGO_LDFLAGS, e.g.
//
//	CGO_LDFLAGS="-L/opt/flagwire/lib" go build -tags flagwire_dynamic ./...
//
// If that directory holds libflagwire.so, the binary needs it at run time (LD_LIBRARY_PATH,
// ldconfig, or CGO_LDFLAGS="-L/opt/flagwire/lib -Wl,-rpath,/opt/flagwire/lib"). If it holds only
// libflagwire.a, the linker links it statically, as the default build does.

// #cgo linux LDFLAGS: -lflagwire -lgcc_s -lutil -lrt -lpthread -lm -ldl
// #cgo darwin LDFLAGS: -lflagwire -lpthread -lm -ldl
import "C"
