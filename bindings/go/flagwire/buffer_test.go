package flagwire_test

// OnDecision buffers decision records and a goroutine hands them to the library (buffer.go):
// no decision is lost or re-timed on the way.

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

func exposure(user string) notification.DecisionNotification {
	return flagNotification(user, map[string]any{"plan": "premium"}, map[string]any{
		"flagKey": "checkout_flow", "ruleKey": "checkout_ab", "variationKey": "treatment", "enabled": true,
		"decisionEventDispatched": true, "experimentId": "2001", "variationId": "5002"})
}

// holdRecords makes the clients a test creates keep buffered records until Flush, Stats or
// Close (or their cleanup) hands them over.
func holdRecords(t *testing.T) {
	restore := flagwire.SetHandoverDelay(time.Hour)
	t.Cleanup(restore)
}

// A buffered decision is sent with the time it was made, not the time it was handed over.
func TestBufferedDecisionKeepsItsTime(t *testing.T) {
	resetCollector(t)
	holdRecords(t)
	c := newClient(t, nil)
	t0 := time.Now().UnixMilli()
	c.OnDecision(exposure("timed"))
	t1 := time.Now().UnixMilli()
	time.Sleep(50 * time.Millisecond) // the hand-over (in Flush) comes clearly later
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := collectorMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("messages %v", msgs)
	}
	ts, err := time.Parse(time.RFC3339Nano, str(msgs[0], "timestamp"))
	if err != nil {
		t.Fatal(err)
	}
	if ms := ts.UnixMilli(); ms < t0 || ms > t1 {
		t.Fatalf("timestamp %s is not the decision's time [%d, %d] ms", ts, t0, t1)
	}
}

// Close hands over what is buffered before it shuts the library's client down.
func TestCloseHandsOverBufferedDecisions(t *testing.T) {
	resetCollector(t)
	holdRecords(t)
	c, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: collectorURL, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		c.OnDecision(exposure(fmt.Sprintf("close-%d", i)))
	}
	if held, _ := flagwire.BufferedBytes(c); held == 0 {
		t.Fatal("nothing buffered: the test would not test Close")
	}
	if err := c.Close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(collectorMessages(t)); n != 50 {
		t.Fatalf("collector holds %d, want 50", n)
	}
}

// Past its bound the buffer takes no more records: callers hand theirs over at once, and every
// decision is delivered exactly once.
func TestFullBufferFallsBackToDirectHandOver(t *testing.T) {
	resetCollector(t)
	holdRecords(t)
	c := newClient(t, func(cfg *flagwire.Config) { cfg.MaxQueueEvents = 100_000; cfg.MaxQueueBytes = 1 << 30 })
	_, limit := flagwire.BufferedBytes(c)
	n := limit / 80 // records are over 110 bytes: half as much again as the buffer holds
	for i := 0; i < n; i++ {
		c.OnDecision(exposure(fmt.Sprintf("full-%d", i)))
	}
	if held, _ := flagwire.BufferedBytes(c); held > limit+64<<10 { // a shard passes its bound by one record at most
		t.Fatalf("buffer holds %d bytes, bound %d", held, limit)
	}
	if err := c.Flush(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := collectorMessages(t)
	users := map[string]bool{}
	for _, m := range msgs {
		users[str(m, "userId")] = true
	}
	if len(msgs) != n || len(users) != n {
		t.Fatalf("collector holds %d events for %d users, want %d each", len(msgs), len(users), n)
	}
	if st, _ := c.Stats(); st.Exposures != uint64(n) || st.Delivered != uint64(n) || st.HandlerErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A Client dropped without Close is shut down by its cleanup, which first hands over its
// buffered decisions; its hand-over goroutine ends. Under GOGC=1 this also checks that no call
// reads a freed handle.
func TestUnclosedClientIsCleanedUp(t *testing.T) {
	resetCollector(t)
	holdRecords(t)
	base := runtime.NumGoroutine()
	const clients = 20
	for i := 0; i < clients; i++ {
		c, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: collectorURL, LogLevel: "off"})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.HandleDecision(flagNotification("gc", nil, map[string]any{"flagKey": "f", "ruleKey": "", "variationKey": ""}))
		c.OnDecision(exposure(fmt.Sprintf("gc-%d", i))) // stays buffered: only the cleanup hands it over
		runtime.GC()
	}
	got := 0
	for deadline := time.Now().Add(30 * time.Second); got < clients && time.Now().Before(deadline); {
		runtime.GC()
		got = waitCollector(t, clients, 200*time.Millisecond)
	}
	if got != clients {
		t.Fatalf("collector holds %d of the %d decisions buffered in unclosed clients", got, clients)
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > base+2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before: hand-over goroutines left running", runtime.NumGoroutine(), base)
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}
