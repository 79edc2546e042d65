package flagwire

import (
	"runtime"
	"runtime/cgo"
	"sync"
)

// handle guards the C pointer. Calls hold the read lock for their duration; shutdown takes the
// write lock, so it never frees the client under a running call. Calls use TryRLock: while a
// shutdown is pending they fail fast with ErrClosed instead of waiting, so a decision never
// blocks behind a Close.
type handle struct {
	mu  sync.RWMutex
	ptr cptr       // nil once closed
	log cgo.Handle // the log callback's user_data; deleted once the client is shut down
}

// take marks the handle closed and returns what shutdown needs; nil when already closed. It
// waits for calls in progress; calls that start afterwards see nil.
func (h *handle) take() (cptr, cgo.Handle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, log := h.ptr, h.log
	h.ptr, h.log = nil, 0
	return p, log
}

// shutdown frees the library's client, then the log callback's handle: after
// flagwire_shutdown returns the library never calls the callback again (docs/design.md §2.4).
func shutdown(p cptr, log cgo.Handle, timeoutMS uint32) Status {
	st := cShutdown(p, timeoutMS)
	if log != 0 {
		log.Delete()
	}
	return st
}

// scratch is one call's memory, reused through a pool so the decision path allocates nothing:
// the buffer a decision record is encoded into, and the slots C writes *out_error and
// *out_value to (cgo allows passing the address of a field that holds no Go pointer).
type scratch struct {
	buf    []byte
	errOut cstring
	valOut cstring
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 512)} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// release frees anything the library left in the out slots and returns s to the pool (an
// outsized buffer is left to the GC rather than kept alive).
func (s *scratch) release() {
	takeString(&s.errOut)
	takeString(&s.valOut)
	if cap(s.buf) > 64<<10 {
		return
	}
	s.buf = s.buf[:0]
	scratchPool.Put(s)
}

// call is the one way into the library for a live client (docs/design.md §8; uniffi's
// callWithHandle): acquire the handle (ErrClosed when closed or closing), run f with the live
// pointer, release, keep the Client reachable until f returned (runtime.KeepAlive: its cleanup
// must not shut the client down under the call), and turn a failing status plus the call's own
// *out_error message (s.errOut, freed with flagwire_string_free) into an *Error. OK and SKIPPED
// are not errors. Values written to s.valOut stay there for the caller to take.
//
// f does not escape, so a closure passed here is not heap-allocated.
func (c *Client) call(s *scratch, f func(p cptr) Status) (Status, error) {
	if !c.h.mu.TryRLock() {
		return StatusClosed, ErrClosed
	}
	p := c.h.ptr
	if p == nil {
		c.h.mu.RUnlock()
		return StatusClosed, ErrClosed
	}
	st := f(p)
	c.h.mu.RUnlock()
	runtime.KeepAlive(c)
	msg := takeString(&s.errOut)
	switch {
	case st == StatusOK || st == StatusSkipped:
		return st, nil
	case msg == "":
		return st, sentinelFor(st)
	}
	return st, &Error{Status: st, Message: msg}
}
