package flagwire_test

// Benchmarks: flagwire's DECISION handler vs what a Go user writes by hand today, a DECISION
// handler that builds an analytics-go Track with the same properties and Enqueues it. Both send
// to the same local collector in the same run. Run them with bench.sh (fixed iteration counts,
// -benchmem, -count 5):
//
//   - ns/op is the caller's cost: the time inside the handler, i.e. what decide() pays.
//   - delivered-events/s is end to end: from the first call until the collector holds all b.N
//     events (flagwire: Flush; analytics-go: Close, its only way to flush).
//   - caller-cpu-ns/op (single-goroutine benchmarks, Linux) is the CPU time of the calling
//     thread per call: the caller's own work, without the time the collector and the sender
//     (which share the 2 cores in this benchmark) take from it.
//   - B/op and allocs/op count the Go heap during the timed loop, background goroutines
//     included (analytics-go serializes on a goroutine; flagwire serializes in Rust, off the
//     Go heap).

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/entities"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
	analytics "github.com/segmentio/analytics-go/v3"
)

const (
	benchBatchSize = 250 // analytics-go's default; flagwire is set to the same
	benchInterval  = time.Second
)

// benchNotification is a flag decision as the Go SDK sends it for an experiment rule.
func benchNotification(i int) notification.DecisionNotification {
	variation, variationID := "control", "5001"
	if i%2 == 1 {
		variation, variationID = "treatment", "5002"
	}
	return notification.DecisionNotification{
		Type: notification.Flag,
		UserContext: entities.UserContext{ID: fmt.Sprintf("user-%d", i),
			Attributes: map[string]any{"plan": "premium", "country": "DE", "logins": 12}},
		DecisionInfo: map[string]any{
			"flagKey": "checkout_flow", "enabled": i%2 == 1, "variables": map[string]any{"button_color": "gray"},
			"variationKey": variation, "ruleKey": "checkout_ab", "reasons": []string{},
			"decisionEventDispatched": true, "experimentId": "2001", "variationId": variationID,
		},
	}
}

// ringMask: the benchmarks cycle 16 notifications. The SDK builds each notification right
// before it calls the handlers, so its maps are hot in cache; cycling a large pre-built set
// would instead measure cache misses on Go maps (in both handlers alike).
const ringMask = 15

func benchNotifications() []notification.DecisionNotification {
	notes := make([]notification.DecisionNotification, ringMask+1)
	for i := range notes {
		notes[i] = benchNotification(i)
	}
	return notes
}

// analyticsHandler is the hand-written listener: same filter (keys present, not disabled) and
// the same properties as flagwire's default "both" style.
func analyticsHandler(ac analytics.Client) func(notification.DecisionNotification) {
	return func(n notification.DecisionNotification) {
		if n.Type != notification.Flag {
			return
		}
		info := n.DecisionInfo
		ruleKey, _ := info["ruleKey"].(string)
		variationKey, _ := info["variationKey"].(string)
		if ruleKey == "" || variationKey == "" {
			return
		}
		if dispatched, ok := info["decisionEventDispatched"].(bool); ok && !dispatched {
			return
		}
		flagKey, _ := info["flagKey"].(string)
		enabled, _ := info["enabled"].(bool)
		experimentID, _ := info["experimentId"].(string)
		variationID, _ := info["variationId"].(string)
		props := analytics.NewProperties().
			Set("flagKey", flagKey).Set("ruleKey", ruleKey).Set("variationKey", variationKey).
			Set("enabled", enabled).Set("optimizelyUserId", n.UserContext.ID).
			Set("experiment_id", experimentID).Set("experiment_name", ruleKey).
			Set("variation_id", variationID).Set("variation_name", variationKey)
		if len(n.UserContext.Attributes) > 0 {
			props.Set("userAttributes", n.UserContext.Attributes)
		}
		_ = analytics.Client.Enqueue(ac, analytics.Track{UserId: n.UserContext.ID, Event: "Experiment Viewed",
			Properties: props, Context: &analytics.Context{Library: analytics.LibraryInfo{Name: "flagwire-bench", Version: "0"}}})
	}
}

type quietLogger struct{}

func (quietLogger) Logf(string, ...interface{})   {}
func (quietLogger) Errorf(string, ...interface{}) {}

// sink is one destination under test: the handler and how to drain it.
type sink struct {
	handle func(notification.DecisionNotification)
	drain  func(b *testing.B) // flush everything queued (analytics-go: Close)
	close  func()
	check  func(b *testing.B) // after draining
}

func newFlagwireSink(b *testing.B) sink {
	c, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: collectorURL, LogLevel: "off",
		BatchSize: benchBatchSize, FlushIntervalMS: int(benchInterval / time.Millisecond),
		MaxQueueEvents: 2_000_000, MaxQueueBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.SetDatafile(string(readDatafile(b, "minimal-datafile.json"))); err != nil { // as Attach does
		b.Fatal(err)
	}
	return sink{
		handle: c.OnDecision,
		drain: func(b *testing.B) {
			if err := c.Flush(120 * time.Second); err != nil {
				b.Fatal(err)
			}
		},
		close: func() { _ = c.Close(10 * time.Second) },
		check: func(b *testing.B) {
			st, err := c.Stats()
			if err != nil {
				b.Fatal(err)
			}
			if st.DroppedQueueFull != 0 || st.HandlerErrors != 0 || st.Failed != 0 {
				b.Fatalf("flagwire dropped or failed events: %+v", st)
			}
		},
	}
}

func newAnalyticsSink(b *testing.B) sink {
	ac, err := analytics.NewWithConfig(writeKey, analytics.Config{Endpoint: collectorURL,
		BatchSize: benchBatchSize, Interval: benchInterval, Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	closed := false
	return sink{
		handle: analyticsHandler(ac),
		drain: func(b *testing.B) {
			if err := ac.Close(); err != nil {
				b.Fatal(err)
			}
			closed = true
		},
		close: func() {
			if !closed {
				_ = ac.Close()
			}
		},
		check: func(*testing.B) {},
	}
}

var sinks = []struct {
	name string
	make func(*testing.B) sink
}{
	{"flagwire", newFlagwireSink},
	{"analytics-go", newAnalyticsSink},
}

// measurePaced calls the handler in groups of 8, sleeping 200 µs between groups (about 30,000
// decisions/s), so the sender and the collector do not compete with the caller for the 2 cores.
// Each group's notifications are built just before the calls, as the SDK builds each one just
// before it calls the handlers (so they are hot in cache). Each call is timed on its own: ns/op
// is overridden with the mean time inside the handler, and p50-ns/p99-ns are reported (all
// include ~30 ns of clock reads). B/op includes building the notifications (equal for both).
func measurePaced(b *testing.B, s sink) {
	defer s.close()
	const group = 8
	lat := make([]time.Duration, b.N)
	notes := make([]notification.DecisionNotification, group)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		for j := range notes {
			notes[j] = benchNotification(i + j)
		}
		for j := 0; j < group && i < b.N; j++ {
			t0 := time.Now()
			s.handle(notes[j])
			lat[i] = time.Since(t0)
			i++
		}
		time.Sleep(200 * time.Microsecond)
	}
	b.StopTimer()
	s.drain(b)
	if got := waitCollector(b, b.N, 120*time.Second); got != b.N {
		b.Fatalf("collector holds %d events, want %d", got, b.N)
	}
	s.check(b)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(sum.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(lat[b.N/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[b.N*99/100].Nanoseconds()), "p99-ns")
}

// measure runs b.N handler calls (timed), then drains and waits until the collector holds all
// b.N events, and reports the end-to-end rate.
func measure(b *testing.B, s sink, parallel bool) {
	defer s.close()
	notes := benchNotifications()
	if !parallel {
		// One goroutine on one thread, so the thread's CPU time is the caller's.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0 := threadCPU()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				s.handle(notes[i&ringMask])
				i++
			}
		})
	} else {
		for i := 0; i < b.N; i++ {
			s.handle(notes[i&ringMask])
		}
	}
	cpu := threadCPU() - cpu0
	b.StopTimer()
	s.drain(b)
	got := waitCollector(b, b.N, 120*time.Second)
	elapsed := time.Since(start)
	if got != b.N {
		b.Fatalf("collector holds %d events, want %d", got, b.N)
	}
	s.check(b)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "delivered-events/s")
	if !parallel && cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "caller-cpu-ns/op")
	}
}

// BenchmarkExperimentViewed: one goroutine calls the handler back to back (a burst).
func BenchmarkExperimentViewed(b *testing.B) {
	for _, s := range sinks {
		b.Run(s.name, func(b *testing.B) {
			resetCollector(b)
			measure(b, s.make(b), false)
		})
	}
}

// BenchmarkDeliveryAtLatency: the burst of BenchmarkExperimentViewed with the collector
// answering each request after 0, 20, 50 or 200 ms (+10% jitter), as Segment is seen from a
// server: delivered events/s end to end, and the caller's cost while the sender waits on the
// network. bench.sh runs it with fewer events per run (LAT_EVENTS): analytics-go sends one
// batch at a time, 250 events per round trip.
func BenchmarkDeliveryAtLatency(b *testing.B) {
	for _, ms := range []int{0, 20, 50, 200} {
		for _, s := range sinks {
			b.Run(fmt.Sprintf("%dms/%s", ms, s.name), func(b *testing.B) {
				resetCollector(b)
				setLatency(b, ms, ms/10)
				defer setLatency(b, 0, 0)
				measure(b, s.make(b), false)
			})
		}
	}
}

// BenchmarkExperimentViewedParallel: GOMAXPROCS goroutines call the handler concurrently, as
// concurrent decide() calls do.
func BenchmarkExperimentViewedParallel(b *testing.B) {
	for _, s := range sinks {
		b.Run(s.name, func(b *testing.B) {
			resetCollector(b)
			measure(b, s.make(b), true)
		})
	}
}

// BenchmarkExperimentViewedPaced: the handler's own cost at a realistic decision rate.
func BenchmarkExperimentViewedPaced(b *testing.B) {
	for _, s := range sinks {
		b.Run(s.name, func(b *testing.B) {
			resetCollector(b)
			measurePaced(b, s.make(b))
		})
	}
}

// BenchmarkDecide: a whole user.Decide through the real SDK with each listener attached
// (and with none), over 1000 users of the minimal datafile (about half are experiment
// exposures). ns/op is what one decide costs the application.
func BenchmarkDecide(b *testing.B) {
	raw := readDatafile(b, "minimal-datafile.json")
	run := func(b *testing.B, attach func(oc *client.OptimizelyClient) func()) {
		resetCollector(b)
		oc := newOptimizely(b, raw)
		detach := attach(oc)
		users := make([]client.OptimizelyUserContext, 1000)
		for i := range users {
			users[i] = oc.CreateUserContext(fmt.Sprintf("user%d", i), map[string]any{"plan": "premium"})
		}
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := threadCPU()
		for i := 0; i < b.N; i++ {
			users[i%len(users)].Decide("checkout_flow", nil)
		}
		cpu := threadCPU() - cpu0
		b.StopTimer()
		if cpu > 0 {
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "caller-cpu-ns/op")
		}
		detach()
	}
	b.Run("no-listener", func(b *testing.B) {
		run(b, func(*client.OptimizelyClient) func() { return func() {} })
	})
	for _, s := range sinks {
		b.Run(s.name, func(b *testing.B) {
			run(b, func(oc *client.OptimizelyClient) func() {
				snk := s.make(b)
				center := oc.GetNotificationCenter()
				id, err := center.AddHandler(notification.Decision, func(p interface{}) {
					snk.handle(p.(notification.DecisionNotification))
				})
				if err != nil {
					b.Fatal(err)
				}
				return func() {
					_ = center.RemoveHandler(id, notification.Decision)
					snk.drain(b)
					snk.close()
				}
			})
		})
	}
}

// BenchmarkProfileCached: a Profile API lookup answered from the library's cache (the common
// case: cache_ttl_ms is 2 minutes by default), as the Rust core's profile/cached_attributes
// bench measures it (same fixture: three traits and an account, account_bucketing on), plus
// what Go adds: the cgo call, copying the JSON out and, for attributes, decoding it into the
// map CreateUserContext takes.
func BenchmarkProfileCached(b *testing.B) {
	resetCollector(b)
	setProfiles(b, fixtureProfile{ExternalIDs: []fixtureID{{"user_id", "u1"}},
		Traits: map[string]any{"plan": "pro", "seats": 40, "beta": true},
		Links:  []fixtureID{{"group_id", "acme"}}})
	c, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: collectorURL, LogLevel: "off",
		Profile: &flagwire.ProfileConfig{SpaceID: profileSpace, AccessToken: profileToken, Endpoint: collectorURL,
			AccountBucketing: true, CacheTTLMS: 3_600_000, TimeoutMS: 1000}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close(time.Second) }()
	ctx := context.Background()
	if a, err := c.ProfileAttributes(ctx, "user_id:u1"); err != nil || a["$opt_bucketing_id"] != "acme" {
		b.Fatalf("warm-up: %v, %v", a, err)
	}
	if _, err := c.ProfileUserID(ctx, "user_id:u1"); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, lookup func() error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		before := len(profileRequests(b))
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := threadCPU()
		for i := 0; i < b.N; i++ {
			if err := lookup(); err != nil {
				b.Fatal(err)
			}
		}
		cpu := threadCPU() - cpu0
		b.StopTimer()
		if cpu > 0 {
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "caller-cpu-ns/op")
		}
		if n := len(profileRequests(b)) - before; n != 0 {
			b.Fatalf("%d Profile API requests during cached lookups", n)
		}
	}
	b.Run("attributes", func(b *testing.B) {
		run(b, func() error { _, err := c.ProfileAttributes(ctx, "user_id:u1"); return err })
	})
	b.Run("user-id", func(b *testing.B) {
		run(b, func() error { _, err := c.ProfileUserID(ctx, "user_id:u1"); return err })
	})
}
