package flagwire_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/config"
	"github.com/optimizely/go-sdk/v2/pkg/event"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

// noopDispatcher replaces the SDK's default dispatcher, which POSTs to Optimizely.
type noopDispatcher struct{}

func (noopDispatcher) DispatchEvent(event.LogEvent) (bool, error) { return true, nil }

func readDatafile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "tests", "data", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newOptimizely builds the real Go SDK offline from a datafile (optimizely.md §4.1): static
// config manager with SDK key "", no-op event dispatcher, ODP off.
func newOptimizely(t testing.TB, datafile []byte) *client.OptimizelyClient {
	t.Helper()
	cm := config.NewStaticProjectConfigManagerWithOptions("", config.WithInitialDatafile(datafile))
	if cm == nil {
		t.Fatal("datafile did not parse")
	}
	oc, err := (&client.OptimizelyFactory{}).Client(
		client.WithConfigManager(cm),
		client.WithEventDispatcher(noopDispatcher{}),
		client.WithOdpDisabled(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oc.Close)
	return oc
}

// newClient starts a flagwire client pointed at the test collector; closed at test end.
func newClient(t testing.TB, mutate func(*flagwire.Config)) *flagwire.Client {
	t.Helper()
	cfg := flagwire.Config{
		WriteKey:        writeKey,
		Endpoint:        collectorURL,
		FlushIntervalMS: 50,
		LogLevel:        "off",
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := flagwire.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(5 * time.Second); err != nil && !errors.Is(err, flagwire.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// attached builds the real Go SDK offline from a tests/data datafile and a flagwire client
// attached to it (detached at test end), and indexes the datafile.
func attached(t testing.TB, file string, mutate func(*flagwire.Config)) (datafileIndex, *client.OptimizelyClient, *flagwire.Client) {
	t.Helper()
	raw := readDatafile(t, file)
	oc := newOptimizely(t, raw)
	c := newClient(t, mutate)
	mustAttach(t, c, oc)
	return indexDatafile(t, raw), oc, c
}

// mustAttach attaches c to oc, fails the test on an error, and detaches at test end; it returns
// the detach function for tests that detach earlier (detaching twice is harmless).
func mustAttach(t testing.TB, c *flagwire.Client, oc *client.OptimizelyClient) (detach func()) {
	t.Helper()
	detach, err := c.Attach(oc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(detach)
	return detach
}

// handleOne hands n to c at once (HandleDecision), expects an exposure, flushes and returns the
// one message the collector then holds.
func handleOne(t testing.TB, c *flagwire.Client, n notification.DecisionNotification) message {
	t.Helper()
	if queued, err := c.HandleDecision(n); !queued || err != nil {
		t.Fatalf("HandleDecision = %v, %v", queued, err)
	}
	if err := c.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := collectorMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("messages %v", msgs)
	}
	return msgs[0]
}

// rules indexes a datafile: rule key per flag -> experiment or delivery, with ids.
type ruleInfo struct {
	id         string
	experiment bool
	variations map[string]string // key -> id
}

type datafileIndex map[string]map[string]ruleInfo // flag -> rule key -> info

func indexDatafile(t testing.TB, raw []byte) datafileIndex {
	t.Helper()
	type rule struct {
		ID         string `json:"id"`
		Key        string `json:"key"`
		Variations []struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		} `json:"variations"`
	}
	var df struct {
		Experiments []rule                         `json:"experiments"`
		Groups      []struct{ Experiments []rule } `json:"groups"`
		Rollouts    []struct {
			ID          string `json:"id"`
			Experiments []rule `json:"experiments"`
		} `json:"rollouts"`
		FeatureFlags []struct {
			Key           string   `json:"key"`
			ExperimentIDs []string `json:"experimentIds"`
			RolloutID     string   `json:"rolloutId"`
		} `json:"featureFlags"`
	}
	if err := json.Unmarshal(raw, &df); err != nil {
		t.Fatal(err)
	}
	info := func(r rule, exp bool) ruleInfo {
		v := map[string]string{}
		for _, x := range r.Variations {
			v[x.Key] = x.ID
		}
		return ruleInfo{id: r.ID, experiment: exp, variations: v}
	}
	exps := map[string]rule{}
	for _, r := range df.Experiments {
		exps[r.ID] = r
	}
	for _, g := range df.Groups {
		for _, r := range g.Experiments {
			exps[r.ID] = r
		}
	}
	out := datafileIndex{}
	for _, f := range df.FeatureFlags {
		m := map[string]ruleInfo{}
		for _, id := range f.ExperimentIDs {
			m[exps[id].Key] = info(exps[id], true)
		}
		for _, ro := range df.Rollouts {
			if ro.ID == f.RolloutID {
				for _, r := range ro.Experiments {
					m[r.Key] = info(r, false)
				}
			}
		}
		out[f.Key] = m
	}
	return out
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func props(m message) map[string]any { p, _ := m["properties"].(map[string]any); return p }
