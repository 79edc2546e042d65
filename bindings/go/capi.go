package flagwire

// This is the only file that names C symbols. Every prototype comes from the generated,
// checked-in header include/flagwire.h; nothing is declared by hand (hand-written prototypes
// drift from the real ABI: pact-go#402/#440/#550).

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #include "flagwire.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// ABIVersion is the C ABI version this package was written for. New refuses to run against a
// library that reports another one.
const ABIVersion = 2

// Compile-time checks that the header this package is built against has the numbers the Go
// code uses: a mismatch is a constant index out of range, i.e. a build error.
var (
	_ = [1]struct{}{}[ABIVersion-C.FLAGWIRE_ABI_VERSION]
	_ = [1]struct{}{}[StatusOK-C.FLAGWIRE_STATUS_OK]
	_ = [1]struct{}{}[StatusSkipped-C.FLAGWIRE_STATUS_SKIPPED]
	_ = [1]struct{}{}[StatusNullArgument-C.FLAGWIRE_STATUS_NULL_ARGUMENT]
	_ = [1]struct{}{}[StatusInvalidUTF8-C.FLAGWIRE_STATUS_INVALID_UTF8]
	_ = [1]struct{}{}[StatusInvalidJSON-C.FLAGWIRE_STATUS_INVALID_JSON]
	_ = [1]struct{}{}[StatusInvalidConfig-C.FLAGWIRE_STATUS_INVALID_CONFIG]
	_ = [1]struct{}{}[StatusQueueFull-C.FLAGWIRE_STATUS_QUEUE_FULL]
	_ = [1]struct{}{}[StatusTooLarge-C.FLAGWIRE_STATUS_TOO_LARGE]
	_ = [1]struct{}{}[StatusClosed-C.FLAGWIRE_STATUS_CLOSED]
	_ = [1]struct{}{}[StatusTimeout-C.FLAGWIRE_STATUS_TIMEOUT]
	_ = [1]struct{}{}[StatusPanic-C.FLAGWIRE_STATUS_PANIC]
	_ = [1]struct{}{}[StatusNotFound-C.FLAGWIRE_STATUS_NOT_FOUND]
	_ = [1]struct{}{}[StatusUnavailable-C.FLAGWIRE_STATUS_UNAVAILABLE]
)

// cptr is an opaque client handle as the C library sees it.
type cptr = *C.FlagwireClient

// Strings cross the boundary as NUL-terminated byte slices in Go memory. They hold no Go
// pointers, so cgo's pointer rules allow passing them; the library copies what it keeps and
// never retains the pointer after the call returns.
func cchar(b []byte, off int) *C.char { return (*C.char)(unsafe.Pointer(&b[off])) }

// takeString copies a library-owned string into Go memory and frees it with
// flagwire_string_free (never libc free). NULL gives ("", false).
func takeString(s *C.char) (string, bool) {
	if s == nil {
		return "", false
	}
	out := C.GoString(s)
	C.flagwire_string_free(s)
	return out, true
}

func cVersion() string { return C.GoString(C.flagwire_version()) }

func cABIVersion() uint32 { return uint32(C.flagwire_abi_version()) }

// cInit: config is NUL-terminated. Returns the handle, or the status and the library's message.
func cInit(config []byte) (cptr, Status, string) {
	var out cptr
	var msg *C.char
	st := Status(C.flagwire_init(cchar(config, 0), &out, &msg))
	text, _ := takeString(msg)
	runtime.KeepAlive(config)
	if st != StatusOK {
		return nil, st, text
	}
	return out, st, ""
}

func cSetDatafile(p cptr, datafile []byte) Status {
	return Status(C.flagwire_set_datafile(p, cchar(datafile, 0)))
}

func cOnDecision(p cptr, notification []byte) Status {
	return Status(C.flagwire_on_decision(p, cchar(notification, 0)))
}

// cOnFlagDecision passes five strings that live in buf at the given offsets; attrs < 0 = NULL.
func cOnFlagDecision(p cptr, buf []byte, user, flag, rule, variation, attrs int, enabled bool, dispatched int32) Status {
	var a *C.char
	if attrs >= 0 {
		a = cchar(buf, attrs)
	}
	var e C.int32_t
	if enabled {
		e = 1
	}
	return Status(C.flagwire_on_flag_decision(p, cchar(buf, user), cchar(buf, flag), cchar(buf, rule),
		cchar(buf, variation), e, C.int32_t(dispatched), a))
}

func cEnqueue(p cptr, message []byte) Status {
	return Status(C.flagwire_enqueue(p, cchar(message, 0)))
}

func cFlush(p cptr, timeoutMS uint32) Status {
	return Status(C.flagwire_flush(p, C.uint32_t(timeoutMS)))
}

func cStats(p cptr) (string, bool) { return takeString(C.flagwire_stats(p)) }

func cLastError(p cptr) (string, bool) { return takeString(C.flagwire_last_error(p)) }

func cShutdown(p cptr, timeoutMS uint32) Status {
	return Status(C.flagwire_shutdown(p, C.uint32_t(timeoutMS)))
}

// cProfileAttributes: identifier is NUL-terminated. On OK returns the attributes JSON (copied
// into Go memory; the library's string is freed here).
func cProfileAttributes(p cptr, identifier []byte) (Status, string) {
	var out *C.char
	st := Status(C.flagwire_profile_attributes(p, cchar(identifier, 0), &out))
	js, _ := takeString(out) // out is written only on OK; NULL otherwise
	return st, js
}

// cProfileUserID: identifier is NUL-terminated. On OK returns the profile's user_id.
func cProfileUserID(p cptr, identifier []byte) (Status, string) {
	var out *C.char
	st := Status(C.flagwire_profile_user_id(p, cchar(identifier, 0), &out))
	s, _ := takeString(out)
	return st, s
}
