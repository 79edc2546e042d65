package flagwire_test

// Flag decisions reach the library as decision records (docs/design.md §2.2) whatever their
// strings hold, with the notification's ids whether or not a datafile was given.

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

// User ids with NUL bytes, decided by the real SDK: every exposure is delivered with the id
// exactly as the SDK had it (not truncated at the NUL, not dropped).
func TestNULInUserIDIsDelivered(t *testing.T) {
	resetCollector(t)
	idx, oc, c := attached(t, "minimal-datafile.json", nil)
	var want []expectedEvent
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("nul\x00user%d\x00", i)
		attrs := map[string]any{"plan": "pro\x00plus"}
		user := oc.CreateUserContext(id, attrs)
		d := user.Decide("checkout_flow", nil)
		if rule, ok := idx["checkout_flow"][d.RuleKey]; ok && rule.experiment {
			want = append(want, expectedEvent{user: id, flag: "checkout_flow", rule: d.RuleKey, variation: d.VariationKey,
				enabled: d.Enabled, experimentID: rule.id, variationID: rule.variations[d.VariationKey], attrs: attrs})
		}
	}
	if len(want) == 0 {
		t.Fatal("no experiment decisions")
	}
	checkExactly(t, c, want)
	if st, _ := c.Stats(); st.HandlerErrors != 0 || st.DroppedInvalid != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// NUL bytes in every string of a decision, handed to the handler directly (no datafile: keys
// present = experiment): the event carries each string whole.
func TestNULInEveryStringIsDelivered(t *testing.T) {
	resetCollector(t)
	m := handleOne(t, newClient(t, nil), flagNotification("u\x001", map[string]any{"k\x00ey": "v\x00al"}, map[string]any{
		"flagKey": "fl\x00ag", "ruleKey": "ru\x00le", "variationKey": "va\x00r", "enabled": true,
		"decisionEventDispatched": true, "experimentId": "20\x0001", "variationId": "50\x0001"}))
	p := props(m)
	got := map[string]any{"userId": str(m, "userId"), "flagKey": p["flagKey"], "ruleKey": p["ruleKey"],
		"variationKey": p["variationKey"], "experiment_id": p["experiment_id"], "variation_id": p["variation_id"],
		"userAttributes": p["userAttributes"]}
	want := map[string]any{"userId": "u\x001", "flagKey": "fl\x00ag", "ruleKey": "ru\x00le", "variationKey": "va\x00r",
		"experiment_id": "20\x0001", "variation_id": "50\x0001", "userAttributes": map[string]any{"k\x00ey": "v\x00al"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("event\n got %q\nwant %q", got, want)
	}
}

// The real SDK's decisions with no datafile given to flagwire (handler registered by hand, no
// Attach): the experiment and variation ids come from the notification, in the record. Without
// them the events would lack experiment_id / variation_id and checkExactly would fail.
func TestIDsAreCarriedWithoutDatafile(t *testing.T) {
	resetCollector(t)
	raw := readDatafile(t, "minimal-datafile.json")
	idx := indexDatafile(t, raw)
	oc := newOptimizely(t, raw)
	c := newClient(t, nil)
	center := oc.GetNotificationCenter()
	id, err := center.AddHandler(notification.Decision, func(p interface{}) {
		c.OnDecision(p.(notification.DecisionNotification))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = center.RemoveHandler(id, notification.Decision) }()
	// Rollout decisions here report decisionEventDispatched=false (no sendFlagDecisions), so
	// without a datafile exactly the experiment decisions are exposures.
	want, rollouts := decideUsers(t, oc, idx, []string{"checkout_flow"}, 0, 600, nil)
	if len(want) == 0 || rollouts == 0 {
		t.Fatalf("test data must give both experiments (%d) and rollouts (%d)", len(want), rollouts)
	}
	for i := range want {
		want[i].noDatafile = true
	}
	checkExactly(t, c, want)
	if st, _ := c.Stats(); st.Decisions != 600 || st.Exposures != uint64(len(want)) || st.HandlerErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}
