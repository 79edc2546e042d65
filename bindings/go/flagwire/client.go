package flagwire

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
)

// Version returns the library's version, e.g. "0.2.0".
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

// Client turns Optimizely decisions into Segment "Experiment Viewed" events. It owns a queue
// and a background sender thread in the library. All methods are safe for concurrent use;
// Close it when done (Close also detaches it from every Optimizely client).
type Client struct {
	h                 *handle
	includeAttributes bool
	report            *handlerReport

	attachMu sync.Mutex
	attached map[any]*attachment
	closing  bool // under attachMu: Close has started; Attach refuses
}

// New checks the library's ABI version (once per process), validates cfg and starts a client
// whose log lines go to cfg.Logger (default slog.Default()). An invalid config returns an
// *Error with StatusInvalidConfig whose message names the key.
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
	// The handle keeps the route (not the Client) reachable for the library's threads; it is
	// deleted after flagwire_shutdown, when the library no longer calls back.
	log := cgo.NewHandle(&logRoute{logger: cfg.Logger})
	report := &handlerReport{onError: cfg.OnError}
	h := &handle{ptr: p, log: log, decisions: newDecisionBuffer(report)}
	go h.decisions.run(h)
	if st := cRouteLog(p, log); st != StatusOK {
		h.close(0)
		return nil, &Error{Status: st, Message: "flagwire_set_log_callback failed"}
	}
	c := &Client{
		h:                 h,
		includeAttributes: cfg.IncludeAttributes == nil || *cfg.IncludeAttributes,
		report:            report,
		attached:          map[any]*attachment{},
	}
	// A Client that is dropped without Close still hands its buffered decisions over and stops
	// the library's sender thread. The cleanup holds only the handle, never the Client. Events
	// still queued then get 2 s to be delivered.
	runtime.AddCleanup(c, func(h *handle) { go h.close(2000) }, h)
	return c, nil
}

// handlerReport counts what the decision handler meets and passes errors to Config.OnError.
// The hand-over goroutine uses it too, so it is not part of the Client.
type handlerReport struct {
	errors, panics, datafileErrors atomic.Uint64
	onError                        func(error)
}

// fail counts err as a handler error and passes it to OnError.
func (r *handlerReport) fail(err error) {
	r.errors.Add(1)
	r.tell(err)
}

// tell passes err to OnError; a panicking OnError is counted, never propagated.
func (r *handlerReport) tell(err error) {
	if r.onError == nil {
		return
	}
	defer func() {
		if recover() != nil {
			r.panics.Add(1)
		}
	}()
	r.onError(err)
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

// SetDatafile gives the library the Optimizely datafile (JSON text), so it classifies rules
// by flag (experiment vs delivery) and fills experiment and variation ids a decision lacks.
// Attach does this for you, on attach and on every config update. An invalid datafile returns
// an error wrapping ErrInvalidJSON and the previous one is kept.
//
// Decisions buffered before the call are handed over first, so they are classified with the
// datafile they were made under.
func (c *Client) SetDatafile(datafile string) error {
	c.h.decisions.handOver(c.h)
	s := getScratch()
	defer s.release()
	_, err := c.call(s, func(p cptr) Status { return cSetDatafileJSON(p, s, datafile) })
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
	s := getScratch()
	defer s.release()
	_, err := c.call(s, func(p cptr) Status { return cEnqueueJSON(p, s, message) })
	return err
}

// Flush waits until every event queued before the call has been delivered or has failed.
// At the deadline it returns an error matching ErrTimeout; nothing is lost, events stay queued.
// It blocks only the calling goroutine.
func (c *Client) Flush(timeout time.Duration) error {
	c.h.decisions.handOver(c.h)
	s := getScratch()
	defer s.release()
	ms := millis(timeout)
	_, err := c.call(s, func(p cptr) Status { return cFlush(p, ms) })
	return err
}

// Close detaches the client from every Optimizely client, flushes with the deadline timeout,
// stops the sender thread and frees the library's client. It returns an error matching
// ErrTimeout when the deadline passed (events not yet sent are then dropped, and logged).
// Closing again, or any call after Close, returns ErrClosed and never crashes. A Close that
// starts while a Flush runs waits for that Flush first.
func (c *Client) Close(timeout time.Duration) error {
	c.detachAll()
	st, ok := c.h.close(millis(timeout))
	runtime.KeepAlive(c)
	if !ok {
		return ErrClosed
	}
	return sentinelFor(st)
}

// Stats are the library's counters since the client started (docs/design.md §6), plus the Go
// handler's own. Once flushed: Enqueued == Delivered + Failed.
type Stats struct {
	Decisions        uint64 `json:"decisions"`          // valid notifications seen
	Exposures        uint64 `json:"exposures"`          // Experiment Viewed events made
	Skipped          uint64 `json:"skipped"`            // valid decisions that are not exposures
	Enqueued         uint64 `json:"enqueued"`           // messages accepted into the queue
	DroppedQueueFull uint64 `json:"dropped_queue_full"` // dropped: queue full
	DroppedInvalid   uint64 `json:"dropped_invalid"`    // dropped: invalid input
	DroppedTooLarge  uint64 `json:"dropped_too_large"`  // dropped: over 32,000 bytes
	// DroppedAttributes: attribute members strict receivers refuse, dropped (the exposure is sent).
	DroppedAttributes uint64 `json:"dropped_attributes"`
	// Deduplicated: repeats within the dedupe window, not sent; DedupeEntries: pairs remembered.
	Deduplicated  uint64 `json:"deduplicated"`
	DedupeEntries uint64 `json:"dedupe_entries"`
	Delivered     uint64 `json:"delivered"` // acknowledged by a 2xx
	Failed        uint64 `json:"failed"`    // given up on
	Retries       uint64 `json:"retries"`
	Batches       uint64 `json:"batches"`
	BytesSent     uint64 `json:"bytes_sent"`
	Requests      uint64 `json:"requests"`    // HTTP requests: attempts, split parts, redirect hops
	Isolated      uint64 `json:"isolated"`    // failed alone after their batch was refused and split
	QueueDepth    uint64 `json:"queue_depth"` // events held: enqueued, not yet delivered or failed
	InFlight      uint64 `json:"in_flight"`   // batches being sent or waiting to be retried

	// Classification (docs/design.md §4, §6).
	HoldoutExposures       uint64          `json:"holdout_exposures"`        // holdout events (also in Exposures)
	Held                   uint64          `json:"held"`                     // decisions held: their rule not in the datafile yet
	ReleasedByDatafile     uint64          `json:"released_by_datafile"`     // ... resolved by the next datafile
	ReleasedByTimeout      uint64          `json:"released_by_timeout"`      // ... by the no-datafile rule after hold_timeout_ms
	ReleasedByFlush        uint64          `json:"released_by_flush"`        // ... by the no-datafile rule at flush or close
	HeldNow                uint64          `json:"held_now"`                 // held right now
	HoldFull               uint64          `json:"hold_full"`                // resolved at once: the hold was full
	ExposuresByVariation   []ExposureCount `json:"exposures_by_variation"`   // per (flag, rule, variation)
	ExposureCountsOverflow uint64          `json:"exposure_counts_overflow"` // exposures past max_exposure_counters

	// Disk spool (docs/design.md §5.1, §6); zero without one.
	Spooled           uint64 `json:"spooled"`             // events put on disk: could not be sent when due
	Unspooled         uint64 `json:"unspooled"`           // events delivered from a file read back
	SpoolRecovered    uint64 `json:"spool_recovered"`     // events found in files of an earlier or gone process
	SpoolDropped      uint64 `json:"spool_dropped"`       // events in the oldest files, removed for the bound
	SpoolCorruptFiles uint64 `json:"spool_corrupt_files"` // torn or corrupt files skipped and removed
	SpoolUnwritable   uint64 `json:"spool_unwritable"`    // events whose batch could not be written
	SpoolFiles        uint64 `json:"spool_files"`         // files held now
	SpoolBytes        uint64 `json:"spool_bytes"`         // their size on disk (4 KiB blocks)
	SpoolSafe         uint64 `json:"spool_safe"`          // events (queue order) written, delivered or failed

	// Go side.
	HandlerErrors  uint64 `json:"handler_errors"`  // decision handler calls that returned an error
	HandlerPanics  uint64 `json:"handler_panics"`  // panics recovered in the handler (never reach the SDK)
	DatafileErrors uint64 `json:"datafile_errors"` // config updates whose datafile was refused
}

// ExposureCount is one (flag, rule, variation)'s exposures since init: a sample for metrics.
type ExposureCount struct {
	FlagKey      string `json:"flag_key"`
	RuleKey      string `json:"rule_key"`
	VariationKey string `json:"variation_key"`
	Exposures    uint64 `json:"exposures"`
}

// Stats returns the current counters, with every decision made before the call counted.
func (c *Client) Stats() (Stats, error) {
	c.h.decisions.handOver(c.h)
	s := getScratch()
	defer s.release()
	var st Stats
	if _, err := c.call(s, func(p cptr) Status { return cStats(p, s) }); err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(takeString(&s.valOut)), &st); err != nil {
		return st, &Error{Status: StatusInvalidJSON, Message: "stats: " + err.Error()}
	}
	st.HandlerErrors = c.report.errors.Load()
	st.HandlerPanics = c.report.panics.Load()
	st.DatafileErrors = c.report.datafileErrors.Load()
	return st, nil
}
