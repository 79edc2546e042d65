package flagwire_test

// The library's log lines reach log/slog (docs/design.md §2.4) through Config.Logger.

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
)

// captureHandler is a slog.Handler that keeps every record, for the tests to read.
type captureHandler struct {
	mu      sync.Mutex
	records []slog.Record
	panics  bool // a broken handler: panics on every line
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captureHandler) WithGroup(string) slog.Handler            { return h }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	if h.panics {
		panic("a broken slog handler")
	}
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}

// find returns the first record at level whose message contains text.
func (h *captureHandler) find(level slog.Level, text string) (slog.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Level == level && strings.Contains(r.Message, text) {
			return r, true
		}
	}
	return slog.Record{}, false
}

func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// The core logs each event it sends at debug level, with its messageId: the line reaches the
// slog logger, at slog.LevelDebug, carrying the messageId the collector received.
func TestLogLinesReachSlogWithTheDeliveredMessageID(t *testing.T) {
	resetCollector(t)
	h := &captureHandler{}
	c := newClient(t, func(cfg *flagwire.Config) {
		cfg.LogLevel = "debug"
		cfg.Logger = slog.New(h)
	})
	queued, err := c.HandleDecision(flagNotification("log-user", nil, map[string]any{
		"flagKey": "checkout_flow", "ruleKey": "checkout_ab", "variationKey": "treatment", "enabled": true,
		"decisionEventDispatched": true, "experimentId": "2001", "variationId": "5002"}))
	if !queued || err != nil {
		t.Fatalf("HandleDecision = %v, %v", queued, err)
	}
	// A decision that is not an exposure is logged on the calling thread.
	if queued, err := c.HandleDecision(flagNotification("log-user", nil, map[string]any{
		"flagKey": "checkout_flow", "ruleKey": "", "variationKey": ""})); queued || err != nil {
		t.Fatalf("skipped decision = %v, %v", queued, err)
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := collectorMessages(t)
	if len(msgs) != 1 || str(msgs[0], "messageId") == "" {
		t.Fatalf("messages %v", msgs)
	}
	id := str(msgs[0], "messageId")
	r, ok := h.find(slog.LevelDebug, id)
	if !ok {
		t.Fatalf("no debug record with messageId %s among %d records", id, len(h.records))
	}
	if attr(r, "component") != "flagwire" || !strings.Contains(r.Message, "log-user") {
		t.Fatalf("record %q, component %q", r.Message, attr(r, "component"))
	}
	if _, ok := h.find(slog.LevelDebug, "skipped"); !ok {
		t.Fatal("no debug record for the skipped decision")
	}
}

// The library's level filters first (default "warn": no debug lines reach slog at all).
func TestLogLevelFiltersBeforeSlog(t *testing.T) {
	resetCollector(t)
	h := &captureHandler{}
	c := newClient(t, func(cfg *flagwire.Config) {
		cfg.LogLevel = ""
		cfg.Logger = slog.New(h)
	})
	if err := c.Enqueue(map[string]any{"type": "track", "userId": "u", "event": "E"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.find(slog.LevelDebug, ""); ok {
		t.Fatal("debug line with the default log level")
	}
	// A warning (Profile API not reachable in time) does reach it, from the calling thread.
	p := newClient(t, func(cfg *flagwire.Config) {
		cfg.LogLevel = ""
		cfg.Logger = slog.New(h)
		cfg.Profile = &flagwire.ProfileConfig{SpaceID: profileSpace, AccessToken: profileToken,
			Endpoint: collectorURL, TimeoutMS: 100}
	})
	scriptProfiles(t, map[string]any{"status": 500})
	if _, err := p.ProfileUserID(context.Background(), "user_id:warn-me"); err == nil {
		t.Fatal("want an error from a 500")
	}
	if r, ok := h.find(slog.LevelWarn, "warn-me"); !ok || attr(r, "component") != "flagwire" {
		t.Fatalf("no warning for the failed lookup: %v", h.records)
	}
}

// A slog handler that panics never unwinds into the library: events are still delivered.
func TestPanickingLogHandlerIsContained(t *testing.T) {
	resetCollector(t)
	c := newClient(t, func(cfg *flagwire.Config) {
		cfg.LogLevel = "debug"
		cfg.Logger = slog.New(&captureHandler{panics: true})
	})
	for i := 0; i < 20; i++ {
		if err := c.Enqueue(map[string]any{"type": "track", "userId": "u", "event": "E"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(collectorMessages(t)); n != 20 {
		t.Fatalf("collector holds %d messages, want 20", n)
	}
}
