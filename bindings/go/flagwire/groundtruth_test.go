package flagwire_test

// Ground truth (issue 19 item 3) with the real Go SDK v2.3.1, which supports global holdouts
// (holdouts[] scoped by includedFlags/excludedFlags; no localHoldouts, no Feature Rollout
// injection in this version): a synchronous event processor captures the SDK's own impression
// events while it decides; the binding's Attach feeds flagwire (the fast path: keys only, ids from
// the datafile). Exactly one Experiment Viewed per impression that is not a rollout, with the same
// user, flag, rule, variation and ids, and ruleType experiment / holdout.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/config"
	"github.com/optimizely/go-sdk/v2/pkg/decide"
	pkgDecision "github.com/optimizely/go-sdk/v2/pkg/decision"
	"github.com/optimizely/go-sdk/v2/pkg/event"
)

type impression struct{ user, flag, rule, variation, experimentID, variationID, ruleType string }

// captureProcessor is a synchronous event processor: every impression is kept as the SDK made it,
// nothing is batched away.
type captureProcessor struct {
	mu          sync.Mutex
	impressions []impression
}

func (p *captureProcessor) ProcessEvent(e event.UserEvent) bool {
	if i := e.Impression; i != nil {
		p.mu.Lock()
		p.impressions = append(p.impressions, impression{e.VisitorID, i.Metadata.FlagKey, i.Metadata.RuleKey,
			i.Metadata.VariationKey, i.ExperimentID, i.VariationID, i.Metadata.RuleType})
		p.mu.Unlock()
	}
	return true
}

func (p *captureProcessor) OnEventDispatch(func(event.LogEvent)) (int, error) { return 0, nil }
func (p *captureProcessor) RemoveOnEventDispatch(int) error                   { return nil }

func TestGroundTruthHoldoutsAndRuleTypesAgainstTheGoSDK(t *testing.T) {
	resetCollector(t)
	raw := readDatafile(t, "datafile-holdouts.json")
	cm := config.NewStaticProjectConfigManagerWithOptions("", config.WithInitialDatafile(raw))
	if cm == nil {
		t.Fatal("datafile did not parse")
	}
	proc := &captureProcessor{}
	oc, err := (&client.OptimizelyFactory{}).Client(client.WithConfigManager(cm), client.WithEventProcessor(proc),
		client.WithOdpDisabled(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oc.Close)
	c := newClient(t, func(cfg *flagwire.Config) { cfg.MaxQueueEvents = 100000 })
	mustAttach(t, c, oc)

	flags := []string{"checkout_flow", "search_flow", "promo_a", "promo_b", "banner_flow"}
	flagForced := map[string]bool{}
	for i := 0; i < 3000; i++ {
		id := fmt.Sprintf("user%d", i)
		user := oc.CreateUserContext(id, attrsFor(i))
		var opts []decide.OptimizelyDecideOptions
		if i%10 == 3 {
			opts = []decide.OptimizelyDecideOptions{decide.DisableDecisionEvent}
		}
		if i%50 == 7 { // forced on a rule, to the delivery rule's variation
			user.SetForcedDecision(pkgDecision.OptimizelyDecisionContext{FlagKey: "checkout_flow", RuleKey: "checkout_ab"},
				pkgDecision.OptimizelyForcedDecision{VariationKey: "on"})
		}
		if i%97 == 11 { // forced on the flag: no rule
			user.SetForcedDecision(pkgDecision.OptimizelyDecisionContext{FlagKey: "promo_a"},
				pkgDecision.OptimizelyForcedDecision{VariationKey: "a_treatment"})
			flagForced[id] = true
		}
		user.DecideForKeys(flags, opts)
	}
	if err := c.Flush(20 * time.Second); err != nil {
		t.Fatal(err)
	}

	want := map[impression]int{}
	byType := map[string]int{}
	unattributable := 0
	for _, imp := range proc.impressions {
		byType[imp.ruleType]++
		switch {
		case imp.ruleType == "rollout":
			continue
		case imp.experimentID == "":
			if !flagForced[imp.user] || imp.rule != "" {
				t.Fatalf("impression without an experiment id: %+v", imp)
			}
			unattributable++
			continue
		}
		kind := map[string]string{"feature-test": "experiment", "holdout": "holdout"}[imp.ruleType]
		if kind == "" {
			t.Fatalf("unexpected rule type %+v", imp)
		}
		imp.ruleType = kind
		want[imp]++
	}
	got := map[impression]int{}
	total := 0
	for _, m := range collectorMessages(t) {
		p := props(m)
		got[impression{str(m, "userId"), str(p, "flagKey"), str(p, "ruleKey"), str(p, "variationKey"),
			str(p, "experiment_id"), str(p, "variation_id"), str(p, "ruleType")}]++
		total++
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("impression %+v: SDK sent %d, flagwire %d", k, n, got[k])
		}
	}
	wantTotal := 0
	for _, n := range want {
		wantTotal += n
	}
	if total != wantTotal {
		t.Fatalf("flagwire sent %d events for %d non-rollout impressions", total, wantTotal)
	}
	count := func(pred func(impression) bool) (n int) {
		for k, c := range want {
			if pred(k) {
				n += c
			}
		}
		return n
	}
	holdouts := count(func(k impression) bool { return k.ruleType == "holdout" })
	excluded := count(func(k impression) bool { return k.rule == "global_holdout" && k.flag == "search_flow" })
	forced := count(func(k impression) bool { return k.rule == "checkout_ab" && k.variation == "on" })
	mutex := count(func(k impression) bool { return k.rule == "promo_a_test" || k.rule == "promo_b_test" })
	if holdouts == 0 || forced == 0 || mutex == 0 || byType["rollout"] == 0 || unattributable == 0 {
		t.Fatalf("the datafile must exercise holdouts (%d), forced variations (%d), the mutex group (%d), "+
			"rollouts (%d), flag-level forced decisions (%d)", holdouts, forced, mutex, byType["rollout"], unattributable)
	}
	// go-sdk v2.3.1 scopes global holdouts: none on the flag the holdout excludes.
	if excluded != 0 {
		t.Fatalf("go-sdk v2.3.1 decided %d holdouts on the excluded flag", excluded)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Exposures != uint64(wantTotal) || st.Delivered != uint64(wantTotal) {
		t.Fatalf("stats %+v; want %d exposures", st, wantTotal)
	}
	t.Logf("go-sdk v2.3.1: %d impressions %v, %d events match one to one (%d holdout, %d forced, %d mutex group, %d flag-level forced without an event)",
		len(proc.impressions), byType, wantTotal, holdouts, forced, mutex, unattributable)
}
