package flagwire

// The log callback (docs/design.md §2.4): the library's lines go to log/slog. The exported
// trampoline lives alone in this file because cgo forbids C definitions in the preamble of a
// file with //export; capi.go registers it.

// #include "flagwire.h"
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
	"unsafe"
)

// The library's log levels (FlagwireLogLevel; checked against the header in capi.go).
const (
	logError = 1
	logWarn  = 2
	logInfo  = 3
	logDebug = 4
)

// logRoute is what a client's cgo.Handle holds: the logger its lines go to.
type logRoute struct {
	logger *slog.Logger // nil: slog.Default() at each line, so a later slog.SetDefault applies
}

// component is added to every line, so flagwire's lines can be told apart and filtered.
var component = slog.String("component", "flagwire")

func slogLevel(level C.enum_FlagwireLogLevel) slog.Level {
	switch level {
	case logError:
		return slog.LevelError
	case logWarn:
		return slog.LevelWarn
	case logInfo:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// flagwireGoLog is the FlagwireLogCallback. It runs on whatever thread the library logs from
// (its sender thread, or the thread of a call such as a Profile API lookup), possibly on several
// at once; slog loggers are safe for that. A panic (a broken slog.Handler, a deleted handle)
// is recovered here: it must never unwind into Rust.
//
//export flagwireGoLog
func flagwireGoLog(userData unsafe.Pointer, level C.enum_FlagwireLogLevel, message *C.char, messageLen C.size_t) {
	defer func() { _ = recover() }()
	route, ok := cgo.Handle(uintptr(userData)).Value().(*logRoute)
	if !ok {
		return
	}
	logger := route.logger
	if logger == nil {
		logger = slog.Default()
	}
	ctx := context.Background()
	lvl := slogLevel(level)
	if !logger.Enabled(ctx, lvl) {
		return
	}
	logger.LogAttrs(ctx, lvl, C.GoStringN(message, C.int(messageLen)), component)
}
