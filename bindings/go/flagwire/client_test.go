package flagwire_test

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/entities"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

func TestVersion(t *testing.T) {
	if v := flagwire.Version(); v == "" || strings.Count(v, ".") != 2 {
		t.Fatalf("Version() = %q", v)
	}
	if flagwire.ABIVersion != 2 || flagwire.Version() != "0.2.0" {
		t.Fatal("ABIVersion")
	}
	// A release carries the library of its own version (scripts/package.sh).
	if flagwire.ModuleVersion != flagwire.Version() {
		t.Fatalf("ModuleVersion %q, library %q", flagwire.ModuleVersion, flagwire.Version())
	}
}

func TestConfigJSON(t *testing.T) {
	js, err := flagwire.Config{WriteKey: "k"}.JSON()
	if err != nil || string(js) != `{"write_key":"k"}` {
		t.Fatalf("zero config = %s, %v; want only write_key (library defaults)", js, err)
	}
	js, _ = flagwire.Config{WriteKey: "k", Gzip: flagwire.Bool(false), MaxRetries: flagwire.Int(0),
		IncludeAttributes: flagwire.Bool(true), Profile: &flagwire.ProfileConfig{SpaceID: "s", AccessToken: "t"}}.JSON()
	want := `{"write_key":"k","max_retries":0,"gzip":false,"include_attributes":true,"profile":{"space_id":"s","access_token":"t"}}`
	if string(js) != want {
		t.Fatalf("got  %s\nwant %s", js, want)
	}
}

func TestInvalidConfigNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		cfg flagwire.Config
		key string
	}{
		{flagwire.Config{}, "write_key"},
		{flagwire.Config{WriteKey: "k", BatchSize: 5000}, "batch_size"},
		{flagwire.Config{WriteKey: "k", Endpoint: "http://example.com"}, "endpoint"},
		{flagwire.Config{WriteKey: "k", Proxy: "socks://x"}, "proxy"},
	} {
		c, err := flagwire.New(tc.cfg)
		if c != nil || !errors.Is(err, flagwire.ErrInvalidConfig) {
			t.Fatalf("New(%+v) = %v, %v", tc.cfg, c, err)
		}
		var fe *flagwire.Error
		if !errors.As(err, &fe) || !strings.Contains(fe.Message, tc.key) {
			t.Fatalf("error %v does not name %q", err, tc.key)
		}
		if strings.Contains(err.Error(), "write_key\":") {
			t.Fatal("config echoed")
		}
	}
}

func TestEnqueue(t *testing.T) {
	resetCollector(t)
	c := newClient(t, nil)
	if err := c.Enqueue(map[string]any{"type": "identify", "userId": "u1", "traits": map[string]any{"plan": "pro"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.EnqueueJSON([]byte(`{"type":"track","userId":"u1","event":"Order Completed","properties":{"revenue":9.5}}`)); err != nil {
		t.Fatal(err)
	}
	err := c.Enqueue(map[string]any{"type": "track", "userId": "u1"}) // no "event"
	if !errors.Is(err, flagwire.ErrInvalidJSON) {
		t.Fatalf("track without event: %v", err)
	}
	if fe := (*flagwire.Error)(nil); !errors.As(err, &fe) || fe.Message == "" {
		t.Fatalf("no message in %v", err)
	}
	if err := c.Enqueue(map[string]any{"bad": make(chan int)}); !errors.Is(err, flagwire.ErrInvalidJSON) {
		t.Fatalf("unencodable: %v", err)
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := collectorMessages(t)
	if len(msgs) != 2 || str(msgs[0], "type") != "identify" || str(msgs[1], "event") != "Order Completed" {
		t.Fatalf("messages %v", msgs)
	}
	for _, m := range msgs {
		if str(m, "messageId") == "" || str(m, "timestamp") == "" {
			t.Fatalf("not completed: %v", m)
		}
	}
	st, _ := c.Stats()
	if st.Enqueued != 2 || st.Delivered != 2 || st.DroppedInvalid != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func flagNotification(user string, attrs map[string]any, info map[string]any) notification.DecisionNotification {
	return notification.DecisionNotification{Type: notification.Flag,
		UserContext: entities.UserContext{ID: user, Attributes: attrs}, DecisionInfo: info}
}

func TestWithoutDatafileTheNotificationIdsAreKept(t *testing.T) {
	resetCollector(t)
	c := newClient(t, nil)
	queued, err := c.HandleDecision(flagNotification("u1", nil, map[string]any{
		"flagKey": "checkout_flow", "ruleKey": "checkout_ab", "variationKey": "treatment", "enabled": true,
		"decisionEventDispatched": true, "experimentId": "2001", "variationId": "5002",
		"variables": map[string]any{"button_color": "green"}, "reasons": []string{}}))
	if !queued || err != nil {
		t.Fatalf("HandleDecision = %v, %v", queued, err)
	}
	// An empty rule is no exposure: SKIPPED is not an error.
	queued, err = c.HandleDecision(flagNotification("u2", nil, map[string]any{
		"flagKey": "checkout_flow", "ruleKey": "", "variationKey": "", "enabled": false, "decisionEventDispatched": false}))
	if queued || err != nil {
		t.Fatalf("skipped decision = %v, %v", queued, err)
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := collectorMessages(t)
	if len(msgs) != 1 || str(props(msgs[0]), "experiment_id") != "2001" || str(props(msgs[0]), "variation_id") != "5002" {
		t.Fatalf("messages %v", msgs)
	}
}

func TestHandlerNeverPanicsAndCountsErrors(t *testing.T) {
	resetCollector(t)
	var seen []error
	c := newClient(t, func(cfg *flagwire.Config) {
		cfg.OnError = func(err error) {
			seen = append(seen, err)
			if strings.Contains(err.Error(), "chan") {
				panic("a broken OnError must not reach the SDK")
			}
		}
	})
	c.OnDecision(flagNotification("u", nil, map[string]any{"flagKey": 42}))                  // wrong type
	c.OnDecision(flagNotification("u", map[string]any{"ch": make(chan int)}, map[string]any{ // unencodable
		"flagKey": "f", "ruleKey": "r", "variationKey": "v"}))
	c.OnDecision(flagNotification("u\xff", nil, map[string]any{"flagKey": "f"})) // not UTF-8
	// No info at all: a buffered record the library refuses (empty flag key), counted there.
	c.OnDecision(notification.DecisionNotification{Type: notification.Flag})
	// A type this library does not know (a future SDK's) is skipped, not an error.
	c.OnDecision(notification.DecisionNotification{Type: "no-such-type", DecisionInfo: map[string]any{}})
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.HandlerErrors != 3 || st.HandlerPanics != 1 || len(seen) != 3 || st.Skipped != 1 || st.DroppedInvalid != 3 {
		t.Fatalf("stats %+v, errors %v", st, seen)
	}
	if !errors.Is(seen[2], flagwire.ErrInvalidUTF8) || !strings.Contains(seen[2].Error(), "user_id") {
		t.Fatalf("invalid UTF-8: %v", seen[2])
	}
}

func TestAttributesAreEncodedExactly(t *testing.T) {
	resetCollector(t)
	c := newClient(t, nil)
	attrs := map[string]any{
		"quote": "a\"b\\c\nd\te\x01", "unicode": "é😀\u2028<&>", "bad_utf8": "x\xffy",
		"int": 7, "int64": int64(-9007199254740993), "float": 0.1, "big": 1e21, "small": 1e-7,
		"bool": false, "nil": nil, "nested": map[string]any{"k": []any{1, "two"}},
	}
	m := handleOne(t, c, flagNotification("u-attrs", attrs, map[string]any{
		"flagKey": "f", "ruleKey": "r", "variationKey": "v", "enabled": true, "decisionEventDispatched": true}))
	got := props(m)["userAttributes"]
	want := normalize(t, attrs) // encoding/json's rendering, incl. U+FFFD for invalid UTF-8
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("userAttributes\n got %#v\nwant %#v", got, want)
	}
}

func TestPropertyStyleAndAttributesConfig(t *testing.T) {
	resetCollector(t)
	c := newClient(t, func(cfg *flagwire.Config) {
		cfg.PropertyStyle = "optimizely"
		cfg.IncludeAttributes = flagwire.Bool(false)
		cfg.EventName = "Experiment Exposed"
	})
	if err := c.SetDatafile(string(readDatafile(t, "minimal-datafile.json"))); err != nil {
		t.Fatal(err)
	}
	if err := c.SetDatafile("{not json"); !errors.Is(err, flagwire.ErrInvalidJSON) {
		t.Fatalf("bad datafile: %v", err)
	}
	if _, err := c.HandleDecision(flagNotification("u1", map[string]any{"plan": "pro"}, map[string]any{
		"flagKey": "checkout_flow", "ruleKey": "checkout_ab", "variationKey": "control", "enabled": false,
		"decisionEventDispatched": true})); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := collectorMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("messages %v", msgs)
	}
	p := props(msgs[0])
	if str(msgs[0], "event") != "Experiment Exposed" || str(p, "experimentId") != "2001" || str(p, "variationId") != "5001" ||
		p["experiment_id"] != nil || p["userAttributes"] != nil {
		t.Fatalf("message %v", msgs[0])
	}
}

// Each call gets its own error message (ABI 2's out_error), even with other calls failing on
// other goroutines at the same time: no shared "last error" to overwrite.
func TestErrorMessagesArePerCall(t *testing.T) {
	c := newClient(t, nil)
	cases := []struct{ message, key string }{
		{`{"type":"track","userId":"u"}`, "`event` is required"},
		{`{"type":"alias","userId":"u"}`, "`previousId` is required"},
	}
	var wg sync.WaitGroup
	for _, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				err := c.EnqueueJSON([]byte(tc.message))
				var fe *flagwire.Error
				if !errors.As(err, &fe) || fe.Status != flagwire.StatusInvalidJSON || !strings.Contains(fe.Message, tc.key) {
					t.Errorf("%s: %v, want INVALID_JSON naming %s", tc.message, err, tc.key)
					return
				}
			}
		}()
	}
	wg.Wait()
}
