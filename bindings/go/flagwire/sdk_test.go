package flagwire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/config"
	"github.com/optimizely/go-sdk/v2/pkg/decide"
	"github.com/optimizely/go-sdk/v2/pkg/entities"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

// expectedEvent is what one SDK decision must produce at the collector.
type expectedEvent struct {
	user, flag, rule, variation string
	enabled                     bool
	experimentID, variationID   string
	attrs                       map[string]any
	noDatafile                  bool // flagwire had no datafile: no ruleType
}

func attrsFor(i int) map[string]any {
	switch i % 3 {
	case 0:
		return nil
	case 1:
		return map[string]any{"plan": "pro", "age": 30}
	default:
		return map[string]any{"plan": "free", "beta": true, "score": 1.5, "tags": []string{"a", "b"}}
	}
}

// decideUsers runs real decisions and returns the exposures the SDK's own decisions imply:
// a decision is an exposure when its rule is an experiment of that flag in the datafile.
func decideUsers(t testing.TB, oc *client.OptimizelyClient, idx datafileIndex, flags []string, from, to int,
	opts []decide.OptimizelyDecideOptions) (exp []expectedEvent, rollouts int) {
	for i := from; i < to; i++ {
		id := fmt.Sprintf("user%d", i)
		attrs := attrsFor(i)
		user := oc.CreateUserContext(id, attrs)
		for flag, d := range user.DecideForKeys(flags, opts) {
			if d.RuleKey == "" {
				continue
			}
			rule, known := idx[flag][d.RuleKey]
			if !known {
				t.Errorf("SDK decided rule %q for flag %q that the datafile lacks", d.RuleKey, flag)
				continue
			}
			if !rule.experiment {
				rollouts++
				continue
			}
			exp = append(exp, expectedEvent{user: id, flag: flag, rule: d.RuleKey, variation: d.VariationKey,
				enabled: d.Enabled, experimentID: rule.id, variationID: rule.variations[d.VariationKey], attrs: attrs})
		}
	}
	return exp, rollouts
}

// normalize gives a value the shape it has after a JSON round trip.
func normalize(t testing.TB, v any) any {
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	_ = json.Unmarshal(js, &out)
	return out
}

// checkExactly asserts the collector holds exactly the expected events, with their properties.
func checkExactly(t testing.TB, c *flagwire.Client, want []expectedEvent) []message {
	t.Helper()
	if err := c.Flush(20 * time.Second); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	waitCollector(t, len(want), 5*time.Second)
	msgs := collectorMessages(t)
	if len(msgs) != len(want) {
		t.Fatalf("collector holds %d messages, want exactly %d", len(msgs), len(want))
	}
	byKey := map[string]expectedEvent{}
	for _, e := range want {
		byKey[e.user+"/"+e.flag] = e
	}
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, m := range msgs {
		p := props(m)
		key := str(m, "userId") + "/" + str(p, "flagKey")
		e, ok := byKey[key]
		if !ok {
			t.Fatalf("unexpected event %v", m)
		}
		if seen[key] {
			t.Fatalf("duplicate event for %s", key)
		}
		seen[key] = true
		if id := str(m, "messageId"); id == "" || ids[id] {
			t.Fatalf("missing or repeated messageId in %v", m)
		} else {
			ids[id] = true
		}
		if str(m, "type") != "track" || str(m, "event") != "Experiment Viewed" || str(m, "timestamp") == "" {
			t.Fatalf("bad envelope %v", m)
		}
		lib, _ := m["context"].(map[string]any)["library"].(map[string]any)
		if str(lib, "name") != "flagwire" || str(lib, "version") != flagwire.Version() {
			t.Fatalf("context.library = %v", lib)
		}
		wantProps := map[string]any{
			"flagKey": e.flag, "ruleKey": e.rule, "variationKey": e.variation, "enabled": e.enabled,
			"optimizelyUserId": e.user, "experiment_id": e.experimentID, "experiment_name": e.rule,
			"variation_id": e.variationID, "variation_name": e.variation,
		}
		if len(e.attrs) > 0 {
			wantProps["userAttributes"] = e.attrs
		}
		if !e.noDatafile { // docs/design.md §4: with a datafile the event says the rule's kind
			wantProps["ruleType"] = "experiment"
		}
		if got, w := normalize(t, p), normalize(t, wantProps); !reflect.DeepEqual(got, w) {
			t.Fatalf("properties for %s:\n got %v\nwant %v", key, got, w)
		}
	}
	return msgs
}

func TestDecideProducesExactlyTheExperimentExposures(t *testing.T) {
	cases := []struct {
		file  string
		flags []string
		users int
	}{
		{"minimal-datafile.json", []string{"checkout_flow"}, 3000},
		{"datafile-repeated-rule-keys.json", []string{"flag_a", "flag_b", "flag_c", "flag_d"}, 1500},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			resetCollector(t)
			raw := readDatafile(t, tc.file)
			idx := indexDatafile(t, raw)
			oc := newOptimizely(t, raw)
			c := newClient(t, func(cfg *flagwire.Config) { cfg.MaxQueueEvents = 50000 })
			mustAttach(t, c, oc)

			want, rollouts := decideUsers(t, oc, idx, tc.flags, 0, tc.users, nil)
			if len(want) == 0 || rollouts == 0 {
				t.Fatalf("test data must give both experiments (%d) and rollouts (%d)", len(want), rollouts)
			}
			msgs := checkExactly(t, c, want)
			for _, m := range msgs {
				if p := props(m); str(p, "flagKey") == "flag_b" {
					t.Fatalf("flag_b's rollout rule shares the key of flag_a's experiment; it must not be an exposure: %v", m)
				}
			}
			decisions := uint64(tc.users * len(tc.flags))
			st, err := c.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.Decisions != decisions || st.Exposures != uint64(len(want)) || st.Skipped != decisions-uint64(len(want)) ||
				st.Enqueued != uint64(len(want)) || st.Delivered != st.Enqueued || st.Failed != 0 ||
				st.HandlerErrors != 0 || st.HandlerPanics != 0 {
				t.Fatalf("stats %+v; want %d decisions, %d exposures", st, decisions, len(want))
			}
			for _, r := range collectorRequests(t) {
				if r.Path != "/v1/batch" || r.ContentEncoding != "gzip" || !r.AuthorizationOK || r.Status != 200 {
					t.Fatalf("request %+v", r)
				}
			}
		})
	}
}

func TestDisableDecisionEventIsNotAnExposure(t *testing.T) {
	raw := readDatafile(t, "minimal-datafile.json")
	idx := indexDatafile(t, raw)
	oc := newOptimizely(t, raw)
	opts := []decide.OptimizelyDecideOptions{decide.DisableDecisionEvent}

	t.Run("honored", func(t *testing.T) {
		resetCollector(t)
		c := newClient(t, nil)
		mustAttach(t, c, oc)
		exps, _ := decideUsers(t, oc, idx, []string{"checkout_flow"}, 0, 300, opts)
		if len(exps) == 0 {
			t.Fatal("no experiment decisions")
		}
		checkExactly(t, c, nil)
		st, _ := c.Stats()
		if st.Decisions != 300 || st.Skipped != 300 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("honor_disable_decision_event=false", func(t *testing.T) {
		resetCollector(t)
		c := newClient(t, func(cfg *flagwire.Config) { cfg.HonorDisableDecisionEvent = flagwire.Bool(false) })
		mustAttach(t, c, oc)
		exps, _ := decideUsers(t, oc, idx, []string{"checkout_flow"}, 0, 300, opts)
		checkExactly(t, c, exps)
	})
}

func TestLegacyAPIsGoThroughJSON(t *testing.T) {
	resetCollector(t)
	raw := readDatafile(t, "minimal-datafile.json")
	oc := newOptimizely(t, raw)
	c := newClient(t, nil)
	mustAttach(t, c, oc)

	// Record what the SDK itself says, to compute the expected exposures.
	var mu sync.Mutex
	var seen []notification.DecisionNotification
	id, err := oc.GetNotificationCenter().AddHandler(notification.Decision, func(p interface{}) {
		mu.Lock()
		seen = append(seen, p.(notification.DecisionNotification))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer oc.GetNotificationCenter().RemoveHandler(id, notification.Decision)

	for i := 0; i < 300; i++ {
		uc := entities.UserContext{ID: fmt.Sprintf("legacy%d", i), Attributes: map[string]any{"plan": "pro"}}
		if _, err := oc.IsFeatureEnabled("checkout_flow", uc); err != nil {
			t.Fatal(err)
		}
		_, _ = oc.Activate("checkout_ab", uc)
	}
	want := map[string]int{}
	for _, n := range seen {
		switch n.Type {
		case notification.Feature:
			f := n.DecisionInfo["feature"].(map[string]any)
			if fmt.Sprint(f["source"]) == "feature-test" {
				want["feature"]++
			}
		case notification.FeatureTest, notification.ABTest:
			if v, _ := n.DecisionInfo["variationKey"].(string); v != "" {
				want["test"]++
			}
		}
	}
	if want["feature"] == 0 || want["test"] == 0 {
		t.Fatalf("no legacy exposures in %d notifications: %v", len(seen), want)
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	total := want["feature"] + want["test"]
	waitCollector(t, total, 5*time.Second)
	msgs := collectorMessages(t)
	if len(msgs) != total {
		t.Fatalf("collector holds %d, want %d (%v)", len(msgs), total, want)
	}
	for _, m := range msgs {
		p := props(m)
		if str(p, "ruleKey") != "checkout_ab" || str(p, "experiment_id") != "2001" || str(p, "variation_id") == "" {
			t.Fatalf("legacy event %v", m)
		}
	}
	if st, _ := c.Stats(); st.HandlerErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConcurrentDecide(t *testing.T) {
	resetCollector(t)
	raw := readDatafile(t, "datafile-repeated-rule-keys.json")
	idx := indexDatafile(t, raw)
	oc := newOptimizely(t, raw)
	c := newClient(t, func(cfg *flagwire.Config) { cfg.MaxQueueEvents = 50000 })
	mustAttach(t, c, oc)

	const workers, perWorker = 16, 250
	flags := []string{"flag_a", "flag_b", "flag_c", "flag_d"}
	var mu sync.Mutex
	var want []expectedEvent
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			exp, _ := decideUsers(t, oc, idx, flags, w*perWorker, (w+1)*perWorker, nil)
			mu.Lock()
			want = append(want, exp...)
			mu.Unlock()
		}(w)
	}
	// Stats and Flush concurrently with the decisions.
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Add(1)
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Stats(); err != nil {
				t.Error(err)
				return
			}
			_ = c.Flush(10 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	side.Wait()
	checkExactly(t, c, want)
}

func TestDetachStopsEvents(t *testing.T) {
	resetCollector(t)
	raw := readDatafile(t, "minimal-datafile.json")
	idx := indexDatafile(t, raw)
	oc := newOptimizely(t, raw)
	c := newClient(t, nil)
	detach := mustAttach(t, c, oc)
	first, _ := decideUsers(t, oc, idx, []string{"checkout_flow"}, 0, 400, nil)
	detach()
	detach() // idempotent
	after, _ := decideUsers(t, oc, idx, []string{"checkout_flow"}, 400, 800, nil)
	if len(after) == 0 {
		t.Fatal("no exposures after detach to check")
	}
	checkExactly(t, c, first)
	if st, _ := c.Stats(); st.Decisions != 400 {
		t.Fatalf("handler still called after detach: %+v", st)
	}
	// Attaching again after a detach is allowed.
	detach2, err := c.Attach(oc)
	if err != nil {
		t.Fatal(err)
	}
	defer detach2()
	again, _ := decideUsers(t, oc, idx, []string{"checkout_flow"}, 800, 1000, nil)
	checkExactly(t, c, append(first, again...))
}

func TestDoubleAttachIsRefused(t *testing.T) {
	resetCollector(t)
	idx, oc, c := attached(t, "minimal-datafile.json", nil)
	if _, err := c.Attach(oc); !errors.Is(err, flagwire.ErrAlreadyAttached) {
		t.Fatalf("second Attach: %v", err)
	}
	// Another offline client has SDK key "" too, so the SDK gives it the same notification
	// center: attaching there would also duplicate every event.
	oc2 := newOptimizely(t, readDatafile(t, "minimal-datafile.json"))
	if _, err := c.Attach(oc2); !errors.Is(err, flagwire.ErrAlreadyAttached) {
		t.Fatalf("Attach to a client sharing the center: %v", err)
	}
	want, _ := decideUsers(t, oc, idx, []string{"checkout_flow"}, 0, 300, nil)
	checkExactly(t, c, want) // each exposure exactly once
}

func TestCloseIsSafe(t *testing.T) {
	raw := readDatafile(t, "minimal-datafile.json")
	oc := newOptimizely(t, raw)
	// Room for every event the workers can make (8 x 2,000): on a loaded machine Close may come
	// late, and a QUEUE_FULL is not what this test is about.
	c, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: collectorURL, LogLevel: "off",
		MaxQueueEvents: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attach(oc); err != nil {
		t.Fatal(err)
	}
	n := notification.DecisionNotification{Type: notification.Flag, UserContext: entities.UserContext{ID: "u"},
		DecisionInfo: map[string]any{"flagKey": "checkout_flow", "ruleKey": "checkout_ab", "variationKey": "control",
			"enabled": false, "decisionEventDispatched": true}}

	// Decisions race the Close: each returns nil or ErrClosed; nothing crashes.
	var wg sync.WaitGroup
	var closedSeen atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				_, err := c.HandleDecision(n)
				if errors.Is(err, flagwire.ErrClosed) {
					closedSeen.Add(1)
				} else if err != nil {
					t.Errorf("HandleDecision: %v", err)
					return
				}
				if i%200 == 0 {
					u := oc.CreateUserContext(fmt.Sprintf("w%d-%d", w, i), nil)
					u.Decide("checkout_flow", nil)
				}
			}
		}(w)
	}
	time.Sleep(5 * time.Millisecond)
	if err := c.Close(5 * time.Second); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if err := c.Close(time.Second); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	c.OnDecision(n) // counted, no panic
	after := oc.CreateUserContext("after-close", nil)
	after.Decide("checkout_flow", nil) // detached by Close
	if _, err := c.HandleDecision(n); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("HandleDecision after Close: %v", err)
	}
	if err := c.Enqueue(map[string]any{"type": "track", "userId": "u", "event": "e"}); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("Enqueue after Close: %v", err)
	}
	if err := c.Flush(time.Second); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := c.SetDatafile(string(raw)); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("SetDatafile after Close: %v", err)
	}
	if _, err := c.Stats(); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("Stats after Close: %v", err)
	}
	if _, err := c.Attach(oc); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("Attach after Close: %v", err)
	}
	var fe *flagwire.Error
	if err := c.Flush(0); !errors.As(err, &fe) || fe.Status != flagwire.StatusClosed {
		t.Fatalf("error type: %#v", err)
	}
}

func TestFlushTimeoutAgainstHangingCollector(t *testing.T) {
	resetCollector(t)
	defer resetCollector(t)
	c := newClient(t, func(cfg *flagwire.Config) {
		cfg.RequestTimeoutMS = 20000
		cfg.MaxRetries = flagwire.Int(0)
	})
	scriptCollector(t, map[string]any{"hang": true})
	if err := c.Enqueue(map[string]any{"type": "track", "userId": "u1", "event": "Order Completed"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := c.Flush(300 * time.Millisecond)
	elapsed := time.Since(start)
	if !errors.Is(err, flagwire.ErrTimeout) {
		t.Fatalf("Flush against a hanging collector: %v", err)
	}
	var fe *flagwire.Error
	if !errors.As(err, &fe) || fe.Status != flagwire.StatusTimeout {
		t.Fatalf("want *flagwire.Error TIMEOUT, got %#v", err)
	}
	if elapsed > 10*time.Second {
		t.Fatalf("Flush(300ms) took %v", elapsed)
	}
	if st, _ := c.Stats(); st.Delivered != 0 {
		t.Fatalf("stats %+v", st)
	}
	start = time.Now()
	err = c.Close(200 * time.Millisecond)
	if err != nil && !errors.Is(err, flagwire.ErrTimeout) {
		t.Fatalf("Close: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("Close(200ms) took %v while a request hangs", time.Since(start))
	}
}

// withFlagDecisions returns the datafile with "sendFlagDecisions": true, so rollout decisions
// report decisionEventDispatched=true: only the datafile then tells flagwire they are deliveries.
func withFlagDecisions(t testing.TB, raw []byte) []byte {
	var df map[string]any
	if err := json.Unmarshal(raw, &df); err != nil {
		t.Fatal(err)
	}
	df["sendFlagDecisions"] = true
	out, _ := json.Marshal(df)
	return out
}

// renamedExperiment returns the datafile with its experiment re-keyed and re-numbered
// (checkout_ab/2001 -> checkout_ab_v2/2002, variations 5003/5004) and a new revision.
func renamedExperiment(t testing.TB, raw []byte) []byte {
	var df map[string]any
	if err := json.Unmarshal(raw, &df); err != nil {
		t.Fatal(err)
	}
	df["revision"] = "2"
	ids := map[string]string{"5001": "5003", "5002": "5004"}
	exp := df["experiments"].([]any)[0].(map[string]any)
	exp["id"], exp["key"] = "2002", "checkout_ab_v2"
	for _, v := range exp["variations"].([]any) {
		v := v.(map[string]any)
		v["id"] = ids[v["id"].(string)]
	}
	for _, a := range exp["trafficAllocation"].([]any) {
		a := a.(map[string]any)
		a["entityId"] = ids[a["entityId"].(string)]
	}
	df["featureFlags"].([]any)[0].(map[string]any)["experimentIds"] = []any{"2002"}
	out, _ := json.Marshal(df)
	return out
}

func TestConfigUpdatePushesTheDatafile(t *testing.T) {
	resetCollector(t)
	v1 := withFlagDecisions(t, readDatafile(t, "minimal-datafile.json"))
	v2 := renamedExperiment(t, v1)
	var current atomic.Value
	current.Store(v1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(current.Load().([]byte))
	}))
	defer srv.Close()

	const sdkKey = "flagwire-go-test-polling"
	pm := config.NewPollingProjectConfigManager(sdkKey,
		config.WithDatafileURLTemplate(srv.URL+"/%s.json"), config.WithPollingInterval(time.Hour))
	oc, err := (&client.OptimizelyFactory{SDKKey: sdkKey}).Client(client.WithConfigManager(pm),
		client.WithEventDispatcher(noopDispatcher{}), client.WithOdpDisabled(true))
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	c := newClient(t, nil)
	mustAttach(t, c, oc)

	want1, rollouts1 := decideUsers(t, oc, indexDatafile(t, v1), []string{"checkout_flow"}, 0, 400, nil)
	current.Store(v2)
	pm.SyncConfig() // the SDK sends its config-update notification; Attach's handler pushes v2
	want2, rollouts2 := decideUsers(t, oc, indexDatafile(t, v2), []string{"checkout_flow"}, 400, 800, nil)
	if len(want1) == 0 || len(want2) == 0 || want2[0].rule != "checkout_ab_v2" || rollouts1 == 0 || rollouts2 == 0 {
		t.Fatalf("update not applied by the SDK: %d/%d", len(want1), len(want2))
	}
	// With no datafile, flagwire would count the rollouts (dispatched=true, keys present); with
	// v1 only, it would skip checkout_ab_v2 (an unknown rule of a known flag).
	checkExactly(t, c, append(want1, want2...))
	if st, _ := c.Stats(); st.DatafileErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}
