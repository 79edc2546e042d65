package flagwire

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// decisionBuffer takes the library's hot path off the SDK's goroutine (docs/design.md §2.2:
// at_ms lets a binding buffer decisions and hand them over later). OnDecision encodes each
// record, stamped with its decision time, into one of a few locked shards (one uncontended
// lock, no cgo call); a hand-over goroutine passes what gathered to the library, one
// flagwire_on_decision_records call per shard, every handoverDelay while decisions come.
// After parkAfter empty rounds it parks, and the next decision wakes it (the only time a
// caller pays for a goroutine wake-up, a few µs). Flush, Stats, SetDatafile and Close hand
// everything over first, so they see every decision made before them.
//
// Memory is bounded: a shard over maxShardBytes takes no more records, and the decision is
// handed over at once on the caller's goroutine instead (never dropped, never waited for).
type decisionBuffer struct {
	shards []shard
	delay  time.Duration // handoverDelay
	parked atomic.Bool   // the hand-over goroutine waits for kick
	kick   chan struct{} // cap 1: wakes a parked hand-over goroutine
	stop   chan struct{}
	done   chan struct{}
	report *handlerReport // errors of a hand-over (never expected: records are checked first)

	handoverMu sync.Mutex // one hand-over at a time; guards the fields below
	spare      []byte
	scratch    scratch

	closeOnce sync.Once
}

type shard struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	_      [64]byte // keeps shards' locks off each other's cache lines
}

const (
	parkAfter     = 40        // empty hand-overs in a row (200 ms without decisions) before parking
	maxShardBytes = 256 << 10 // ~1,500 records; beyond that the caller hands over itself
)

// handoverDelay lets records gather, so one call carries many. A variable only so that tests
// can hold records back (export_test.go); each buffer reads it once.
var handoverDelay = 5 * time.Millisecond

// errBufferFull: the shard is over maxShardBytes; the caller hands the decision over itself.
var errBufferFull = errors.New("flagwire: decision buffer full")

func newDecisionBuffer(report *handlerReport) *decisionBuffer {
	n := 4
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	return &decisionBuffer{
		shards: make([]shard, n),
		delay:  handoverDelay,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		report: report,
	}
}

// add encodes r into a shard. ErrClosed after close; errBufferFull when the shard is over its
// bound; an *Error when the attributes cannot be encoded.
func (b *decisionBuffer) add(r *flagRecord) error {
	sh := b.lockShard()
	if sh.closed {
		sh.mu.Unlock()
		return ErrClosed
	}
	if len(sh.buf) >= maxShardBytes {
		sh.mu.Unlock()
		return errBufferFull
	}
	var err error
	sh.buf, err = appendRecord(sh.buf, r)
	sh.mu.Unlock()
	// The record is published (unlock) before parked is read, and run publishes parked before
	// it looks at the shards: one of the two sees the other, so no record is left behind.
	if err == nil && b.parked.Load() && b.parked.CompareAndSwap(true, false) {
		b.kick <- struct{}{} // never blocks: one kick per park
	}
	return err
}

// lockShard locks a shard another goroutine is not using: random start, then the next free
// one; only when all are busy does it wait, for the first.
func (b *decisionBuffer) lockShard() *shard {
	mask := uint32(len(b.shards) - 1)
	start := rand.Uint32()
	for i := uint32(0); i <= mask; i++ {
		if sh := &b.shards[(start+i)&mask]; sh.mu.TryLock() {
			return sh
		}
	}
	sh := &b.shards[start&mask]
	sh.mu.Lock()
	return sh
}

// run is the hand-over goroutine. It holds the handle, never the Client, so an unreachable
// Client is still collected (and its cleanup closes this buffer).
func (b *decisionBuffer) run(h *handle) {
	defer close(b.done)
	tick := time.NewTimer(b.delay)
	idle := 0 // hand-overs in a row that found nothing
	for {
		select {
		case <-tick.C:
		case <-b.stop:
			return
		}
		if moved, largest := b.handOver(h); moved {
			idle = 0
			if largest >= maxShardBytes/4 {
				tick.Reset(0) // a burst: hand over again at once, before shards fill up
			} else {
				tick.Reset(b.delay)
			}
			continue
		}
		if idle++; idle < parkAfter {
			tick.Reset(b.delay)
			continue
		}
		idle = 0
		b.parked.Store(true)
		if b.pending() && b.parked.CompareAndSwap(true, false) {
			tick.Reset(b.delay) // a record came in meanwhile and did not see parked
			continue
		}
		select {
		case <-b.kick:
			tick.Reset(b.delay)
		case <-b.stop:
			return
		}
	}
}

// pending reports whether any shard holds records.
func (b *decisionBuffer) pending() bool {
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		n := len(sh.buf)
		sh.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// handOver passes every shard's records to the library and reports whether there were any,
// and the most bytes one shard held. Records added meanwhile wait for the next one.
func (b *decisionBuffer) handOver(h *handle) (moved bool, largest int) {
	var failed error
	b.handoverMu.Lock()
	defer func() {
		b.handoverMu.Unlock()
		if failed != nil { // outside the lock: OnError may call Flush or Stats
			b.report.fail(failed)
		}
	}()
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		if len(sh.buf) == 0 {
			sh.mu.Unlock()
			continue
		}
		records := sh.buf
		sh.buf = b.spare[:0]
		sh.mu.Unlock()
		moved, largest = true, max(largest, len(records))
		s := &b.scratch
		_, err := h.call(s, func(p cptr) Status { return cOnDecisionRecords(p, s, records) })
		if err != nil {
			failed = err
		}
		b.spare = nil
		if cap(records) <= 2*maxShardBytes {
			b.spare = records[:0]
		}
	}
	return moved, largest
}

// close refuses new records (add returns ErrClosed), stops the hand-over goroutine and hands
// over what is left, so no decision made before close is lost. Idempotent.
func (b *decisionBuffer) close(h *handle) {
	b.closeOnce.Do(func() {
		for i := range b.shards {
			sh := &b.shards[i]
			sh.mu.Lock()
			sh.closed = true
			sh.mu.Unlock()
		}
		close(b.stop)
		<-b.done
		b.handOver(h)
	})
}

// validUTF8 reports whether the record's strings are UTF-8 (attributes JSON always is). A
// record that is not is handed over on its own, so the library's INVALID_UTF8 reaches the
// caller for that decision rather than a batch's.
func (r *flagRecord) validUTF8() bool {
	for _, s := range r.strings {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
