package flagwire

// This file and log_export.go are the only ones that name C symbols. Every prototype comes from
// the generated, checked-in header include/flagwire.h (build/include/flagwire.h here: a link in
// the repository, a copy in a release); nothing of the library is declared by
// hand (hand-written prototypes drift from the real ABI: pact-go#402/#440/#550). Only ABI 2
// functions are called (docs/design.md §2.3); calling a deprecated ABI 1 one (§2.5) is a build
// error (-Werror=deprecated-declarations).
//
// Inputs cross as pointer + length into Go memory that holds no Go pointers (the pooled record
// buffer, a string's bytes), which cgo's pointer rules allow; the library copies what it keeps.
// Out-parameters (*out_error, *out_value) are fields of the pooled scratch (call.go), so taking
// their address allocates nothing.

// #cgo CFLAGS: -I${SRCDIR}/build/include -Werror=deprecated-declarations
// #include "flagwire.h"
//
// // The Go trampoline exported in log_export.go, declared with the callback's exact type.
// extern void flagwireGoLog(void *user_data, enum FlagwireLogLevel level, const char *message, size_t message_len);
//
// // The log callback's user_data is a cgo.Handle, an integer; the cast to void * is done here
// // because Go may not turn an integer into an unsafe.Pointer.
// static enum FlagwireStatus flagwire_go_route_log(struct FlagwireClient *c, uintptr_t handle) {
//     return flagwire_set_log_callback(c, flagwireGoLog, (void *)handle);
// }
import "C"

import (
	"runtime/cgo"
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
	_ = [1]struct{}{}[StatusInvalidArgument-C.FLAGWIRE_STATUS_INVALID_ARGUMENT]
	_ = [1]struct{}{}[len(statusNames)-1-C.FLAGWIRE_STATUS_INVALID_ARGUMENT] // one name per status

	_ = [1]struct{}{}[recordHeaderLen-C.FLAGWIRE_RECORD_HEADER_LEN]
	_ = [1]struct{}{}[recordFormatFlagDecision-C.FLAGWIRE_RECORD_FORMAT_FLAG_DECISION]

	_ = [1]struct{}{}[logError-C.FLAGWIRE_LOG_LEVEL_ERROR]
	_ = [1]struct{}{}[logWarn-C.FLAGWIRE_LOG_LEVEL_WARN]
	_ = [1]struct{}{}[logInfo-C.FLAGWIRE_LOG_LEVEL_INFO]
	_ = [1]struct{}{}[logDebug-C.FLAGWIRE_LOG_LEVEL_DEBUG]

	_ = [1]struct{}{}[profileAttributes-C.FLAGWIRE_PROFILE_FIELD_ATTRIBUTES]
	_ = [1]struct{}{}[profileUserID-C.FLAGWIRE_PROFILE_FIELD_USER_ID]
)

// cptr is an opaque client handle as the C library sees it.
type cptr = *C.FlagwireClient

// cstring is a string the library returned; it goes back through flagwire_string_free.
type cstring = *C.char

// noBytes gives an empty input a valid address: the library refuses NULL even with length 0.
var noBytes [1]byte

// bytesArg passes b as (pointer, length) without copying.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&noBytes[0])), 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// stringArg passes s's bytes as (pointer, length) without copying; NUL bytes are data.
func stringArg(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&noBytes[0])), 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// takeString copies a library-owned string into Go memory, frees it with flagwire_string_free
// (never libc free) and clears *s. NULL gives "".
func takeString(s *cstring) string {
	if *s == nil {
		return ""
	}
	out := C.GoString(*s)
	C.flagwire_string_free(*s)
	*s = nil
	return out
}

func cVersion() string { return C.GoString(C.flagwire_version()) }

func cABIVersion() uint32 { return uint32(C.flagwire_abi_version()) }

// cInit: config is NUL-terminated. Returns the handle, or the status and the library's message.
func cInit(config []byte) (cptr, Status, string) {
	var out cptr
	var msg cstring
	st := Status(C.flagwire_init((*C.char)(unsafe.Pointer(&config[0])), &out, &msg))
	text := takeString(&msg)
	if st != StatusOK {
		return nil, st, text
	}
	return out, st, ""
}

// cRouteLog sends the client's log lines to flagwireGoLog with h as user_data.
func cRouteLog(p cptr, h cgo.Handle) Status {
	return Status(C.flagwire_go_route_log(p, C.uintptr_t(h)))
}

// cShutdown is not a call-helper function: it frees the client, so it runs under the handle's
// write lock (Client.Close) and nothing else may use p again.
func cShutdown(p cptr, timeoutMS uint32) Status {
	return Status(C.flagwire_shutdown(p, C.uint32_t(timeoutMS)))
}

// The functions below run inside Client.call (call.go), which holds the handle, checks the
// status and takes s.errOut.

func cOnDecisionRecord(p cptr, s *scratch, record []byte) Status {
	ptr, n := bytesArg(record)
	return Status(C.flagwire_on_decision_record(p, ptr, n, &s.errOut))
}

// cOnDecisionRecords hands over records laid back to back (decisionBuffer).
func cOnDecisionRecords(p cptr, s *scratch, records []byte) Status {
	ptr, n := bytesArg(records)
	return Status(C.flagwire_on_decision_records(p, ptr, n, &s.errOut))
}

func cOnNotificationJSON(p cptr, s *scratch, notification []byte) Status {
	ptr, n := bytesArg(notification)
	return Status(C.flagwire_on_notification_json(p, ptr, n, &s.errOut))
}

func cEnqueueJSON(p cptr, s *scratch, message []byte) Status {
	ptr, n := bytesArg(message)
	return Status(C.flagwire_enqueue_json(p, ptr, n, &s.errOut))
}

func cSetDatafileJSON(p cptr, s *scratch, datafile string) Status {
	ptr, n := stringArg(datafile)
	return Status(C.flagwire_set_datafile_json(p, ptr, n, &s.errOut))
}

// cProfileLookup writes the value to s.valOut on OK.
func cProfileLookup(p cptr, s *scratch, field profileField, identifier string) Status {
	ptr, n := stringArg(identifier)
	return Status(C.flagwire_profile_lookup(p, C.enum_FlagwireProfileField(field), ptr, n, &s.valOut, &s.errOut))
}

func cFlush(p cptr, timeoutMS uint32) Status {
	return Status(C.flagwire_flush(p, C.uint32_t(timeoutMS)))
}

// cStats writes the stats JSON to s.valOut; flagwire_stats has no status, NULL means failure.
func cStats(p cptr, s *scratch) Status {
	s.valOut = C.flagwire_stats(p)
	if s.valOut == nil {
		return StatusPanic
	}
	return StatusOK
}
