package flagwire

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Version returns the library's version, e.g. "0.1.0".
func Version() string { return cVersion() }

var (
	abiOnce sync.Once
	abiErr  error
)

// checkABI runs once per process, the first time a Client is created.
func checkABI() error {
	abiOnce.Do(func() {
		if got := cABIVersion(); got != ABIVersion {
			abiErr = fmt.Errorf("%w: library %s implements ABI %d, this package needs %d",
				ErrABIMismatch, cVersion(), got, ABIVersion)
		}
	})
	return abiErr
}

// handle guards the C pointer. Calls hold the read lock for their duration; Close takes the
// write lock, so it never frees the client under a running call. Calls use TryRLock: while a
// Close is pending they fail fast with ErrClosed instead of waiting, so a decision never blocks
// behind a shutdown.
type handle struct {
	mu  sync.RWMutex
	ptr cptr // nil once closed
}

// Client turns Optimizely decisions into Segment "Experiment Viewed" events. It owns a queue
// and a background sender thread in the library. All methods are safe for concurrent use;
// Close it when done (Close also detaches it from every Optimizely client).
type Client struct {
	h                 *handle
	includeAttributes bool
	hasDatafile       atomic.Bool
	onError           func(error)

	handlerErrors  atomic.Uint64
	handlerPanics  atomic.Uint64
	datafileErrors atomic.Uint64

	attachMu sync.Mutex
	attached map[any]*attachment
	closing  bool // under attachMu: Close has started; Attach refuses
}

// New checks the library's ABI version (once per process), validates cfg and starts a client.
// An invalid config returns an *Error with StatusInvalidConfig whose message names the key.
func New(cfg Config) (*Client, error) {
	if err := checkABI(); err != nil {
		return nil, err
	}
	js, err := cfg.JSON()
	if err != nil {
		return nil, &Error{Status: StatusInvalidConfig, Message: err.Error()}
	}
	p, st, msg := cInit(append(js, 0))
	if st != StatusOK {
		return nil, &Error{Status: st, Message: msg}
	}
	c := &Client{
		h:                 &handle{ptr: p},
		includeAttributes: cfg.IncludeAttributes == nil || *cfg.IncludeAttributes,
		onError:           cfg.OnError,
		attached:          map[any]*attachment{},
	}
	// A Client that is dropped without Close still stops its sender thread. The cleanup holds
	// only the handle, never the Client. Events still queued then get 2 s to be delivered.
	runtime.AddCleanup(c, func(h *handle) {
		h.mu.Lock()
		p := h.ptr
		h.ptr = nil
		h.mu.Unlock()
		if p != nil {
			go cShutdown(p, 2000)
		}
	}, c.h)
	return c, nil
}

// acquire returns the live pointer with the read lock held, or false (closed or closing).
func (c *Client) acquire() (cptr, bool) {
	if !c.h.mu.TryRLock() {
		return nil, false
	}
	if c.h.ptr == nil {
		c.h.mu.RUnlock()
		return nil, false
	}
	return c.h.ptr, true
}

func (c *Client) release() { c.h.mu.RUnlock() }

// errorFor turns a status into an error. For statuses whose detail matters (invalid input, an
// internal error) the message is the client's last error text; the others use the sentinels.
func (c *Client) errorFor(p cptr, st Status) error {
	switch st {
	case StatusOK, StatusSkipped:
		return nil
	case StatusNullArgument, StatusInvalidUTF8, StatusInvalidJSON, StatusInvalidConfig, StatusPanic:
		if msg, ok := cLastError(p); ok && msg != "" {
			return &Error{Status: st, Message: msg}
		}
	}
	return sentinelFor(st)
}

// millis converts a timeout for the C ABI: rounded up to whole milliseconds, clamped to uint32.
func millis(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	if ms > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(ms)
}

// nulTerminated copies s into a new byte slice with a trailing NUL.
func nulTerminated(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// SetDatafile gives the library the Optimizely datafile (JSON text), so it classifies rules
// by flag (experiment vs delivery) and fills experiment and variation ids. Attach does this for
// you, on attach and on every config update. An invalid datafile returns an error wrapping
// ErrInvalidJSON and the previous one is kept.
func (c *Client) SetDatafile(datafile string) error {
	buf := nulTerminated(datafile)
	p, ok := c.acquire()
	if !ok {
		return ErrClosed
	}
	st := cSetDatafile(p, buf)
	err := c.errorFor(p, st)
	c.release()
	runtime.KeepAlive(c)
	if err == nil {
		c.hasDatafile.Store(true)
	}
	return err
}

// Enqueue queues any Segment message (track, identify, page, screen, group, alias), e.g. a
// conversion event or traits. It is validated as Segment's libraries do (a known "type",
// "userId" or "anonymousId", "event" for track, ...), otherwise the error wraps ErrInvalidJSON.
// messageId, timestamp and context.library are filled when absent. Never blocks.
func (c *Client) Enqueue(message map[string]any) error {
	js, err := json.Marshal(message)
	if err != nil {
		return &Error{Status: StatusInvalidJSON, Message: err.Error()}
	}
	return c.EnqueueJSON(js)
}

// EnqueueJSON is Enqueue for a message already encoded as a JSON object.
func (c *Client) EnqueueJSON(message []byte) error {
	buf := make([]byte, len(message)+1)
	copy(buf, message)
	p, ok := c.acquire()
	if !ok {
		return ErrClosed
	}
	st := cEnqueue(p, buf)
	err := c.errorFor(p, st)
	c.release()
	runtime.KeepAlive(c)
	return err
}

// Flush waits until every event queued before the call has been delivered or has failed.
// At the deadline it returns an error matching ErrTimeout; nothing is lost, events stay queued.
// It blocks only the calling goroutine.
func (c *Client) Flush(timeout time.Duration) error {
	p, ok := c.acquire()
	if !ok {
		return ErrClosed
	}
	st := cFlush(p, millis(timeout))
	err := c.errorFor(p, st)
	c.release()
	runtime.KeepAlive(c)
	return err
}

// Close detaches the client from every Optimizely client, flushes with the deadline timeout,
// stops the sender thread and frees the library's client. It returns an error matching
// ErrTimeout when the deadline passed (events not yet sent are then dropped, and logged).
// Closing again, or any call after Close, returns ErrClosed and never crashes. A Close that
// starts while a Flush runs waits for that Flush first.
func (c *Client) Close(timeout time.Duration) error {
	c.detachAll()
	c.h.mu.Lock()
	p := c.h.ptr
	c.h.ptr = nil
	c.h.mu.Unlock() // calls that start now see nil; none is running
	if p == nil {
		return ErrClosed
	}
	st := cShutdown(p, millis(timeout))
	runtime.KeepAlive(c)
	return sentinelFor(st)
}

// Stats are the library's counters since the client started (DESIGN §6), plus the Go
// handler's own. Once flushed: Enqueued == Delivered + Failed.
type Stats struct {
	Decisions        uint64 `json:"decisions"`          // valid notifications seen
	Exposures        uint64 `json:"exposures"`          // Experiment Viewed events made
	Skipped          uint64 `json:"skipped"`            // valid decisions that are not exposures
	Enqueued         uint64 `json:"enqueued"`           // messages accepted into the queue
	DroppedQueueFull uint64 `json:"dropped_queue_full"` // dropped: queue full
	DroppedInvalid   uint64 `json:"dropped_invalid"`    // dropped: invalid input
	DroppedTooLarge  uint64 `json:"dropped_too_large"`  // dropped: over 32,000 bytes
	Delivered        uint64 `json:"delivered"`          // acknowledged by a 2xx
	Failed           uint64 `json:"failed"`             // given up on
	Retries          uint64 `json:"retries"`
	Batches          uint64 `json:"batches"`
	BytesSent        uint64 `json:"bytes_sent"`
	QueueDepth       uint64 `json:"queue_depth"`

	// Go side.
	HandlerErrors  uint64 `json:"handler_errors"`  // decision handler calls that returned an error
	HandlerPanics  uint64 `json:"handler_panics"`  // panics recovered in the handler (never reach the SDK)
	DatafileErrors uint64 `json:"datafile_errors"` // config updates whose datafile was refused
}

// Stats returns the current counters.
func (c *Client) Stats() (Stats, error) {
	p, ok := c.acquire()
	if !ok {
		return Stats{}, ErrClosed
	}
	js, got := cStats(p)
	c.release()
	runtime.KeepAlive(c)
	var s Stats
	if !got {
		return s, &Error{Status: StatusPanic, Message: "flagwire_stats returned NULL"}
	}
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return s, &Error{Status: StatusInvalidJSON, Message: "stats: " + err.Error()}
	}
	s.HandlerErrors = c.handlerErrors.Load()
	s.HandlerPanics = c.handlerPanics.Load()
	s.DatafileErrors = c.datafileErrors.Load()
	return s, nil
}
