package flagwire

import (
	"runtime"
	"runtime/cgo"
	"sync"
)

// handle guards the C pointer. Calls hold the read lock for their duration; shutdown takes the
// write lock, so it never frees the client under a running call. Calls use TryRLock: while a
// shutdown is pending they fail fast with ErrClosed instead of waiting, so a decision never
// blocks behind a Close. It holds nothing of the Client, so the Client's cleanup can use it.
type handle struct {
	mu        sync.RWMutex
	ptr       cptr       // nil once closed
	log       cgo.Handle // the log callback's user_data; deleted once the client is shut down
	decisions *decisionBuffer
}

// close hands over the buffered decisions, then shuts the library's client down and frees
// the log callback's handle (after flagwire_shutdown the library never calls it again,
// docs/design.md §2.4). False when it was already closed.
func (h *handle) close(timeoutMS uint32) (Status, bool) {
	h.decisions.close(h)
	h.mu.Lock() // waits for calls in progress; calls that start now see nil
	p, log := h.ptr, h.log
	h.ptr, h.log = nil, 0
	h.mu.Unlock()
	if p == nil {
		return StatusClosed, false
	}
	st := cShutdown(p, timeoutMS)
	if log != 0 {
		log.Delete()
	}
	return st, true
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
// pointer, release, and turn a failing status plus the call's own *out_error message (s.errOut,
// freed with flagwire_string_free) into an *Error. OK and SKIPPED are not errors. Values written
// to s.valOut stay there for the caller to take. Client.call adds the Client's KeepAlive.
//
// f does not escape, so a closure passed here is not heap-allocated.
func (h *handle) call(s *scratch, f func(p cptr) Status) (Status, error) {
	if !h.mu.TryRLock() {
		return StatusClosed, ErrClosed
	}
	p := h.ptr
	if p == nil {
		h.mu.RUnlock()
		return StatusClosed, ErrClosed
	}
	st := f(p)
	h.mu.RUnlock()
	msg := takeString(&s.errOut)
	switch {
	case st == StatusOK || st == StatusSkipped:
		return st, nil
	case msg == "":
		return st, sentinelFor(st)
	}
	return st, &Error{Status: st, Message: msg}
}

// call is handle.call for a Client's methods: runtime.KeepAlive keeps the Client reachable
// until the C call returned, so its cleanup cannot shut the client down under the call.
func (c *Client) call(s *scratch, f func(p cptr) Status) (Status, error) {
	st, err := c.h.call(s, f)
	runtime.KeepAlive(c)
	return st, err
}
