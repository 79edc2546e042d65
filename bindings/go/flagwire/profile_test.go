package flagwire_test

// Profile API (docs/design.md §7) against the project's collector, which serves Segment Profile API
// fixtures (collector/src/profile.rs) over real HTTP on 127.0.0.1.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flagwire/flagwire/bindings/go/flagwire"
	"github.com/optimizely/go-sdk/v2/pkg/client"
)

const (
	profileSpace = "spa_test"
	profileToken = "tok_test"
)

type fixtureID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type fixtureProfile struct {
	ExternalIDs []fixtureID    `json:"external_ids"`
	Traits      map[string]any `json:"traits,omitempty"`
	Links       []fixtureID    `json:"links,omitempty"`
}

// setProfiles replaces the collector's Profile API fixture (POST /_test/profiles).
func setProfiles(t testing.TB, profiles ...fixtureProfile) {
	t.Helper()
	ctl(t, "POST", "/_test/profiles", map[string]any{
		"space_id": profileSpace, "access_token": profileToken, "profiles": profiles}, nil)
}

func scriptProfiles(t testing.TB, steps ...map[string]any) {
	t.Helper()
	ctl(t, "POST", "/_test/profile_script", map[string]any{"steps": steps}, nil)
}

type profileRequest struct {
	Path            string `json:"path"`
	Identifier      string `json:"identifier"`
	Route           string `json:"route"`
	Status          int    `json:"status"`
	AuthorizationOK bool   `json:"authorization_ok"`
}

func profileRequests(t testing.TB) []profileRequest {
	t.Helper()
	var out struct {
		Requests []profileRequest `json:"requests"`
	}
	ctl(t, "GET", "/_test/profile_requests", nil, &out)
	return out.Requests
}

// newProfileClient: a client with the Profile API pointed at the collector.
func newProfileClient(t testing.TB, mutate func(*flagwire.ProfileConfig)) *flagwire.Client {
	t.Helper()
	return newClient(t, func(c *flagwire.Config) {
		c.Profile = &flagwire.ProfileConfig{SpaceID: profileSpace, AccessToken: profileToken, Endpoint: collectorURL}
		if mutate != nil {
			mutate(c.Profile)
		}
	})
}

func u1Profile() fixtureProfile {
	return fixtureProfile{
		ExternalIDs: []fixtureID{{"user_id", "u1"}, {"anonymous_id", "a1"}},
		Traits: map[string]any{"plan": "pro", "logins": 12, "beta": true, "score": 4.5,
			"address": map[string]any{"city": "Berlin"}, "tags": []string{"a"}, "nothing": nil},
		Links: []fixtureID{{"group_id", "acme"}},
	}
}

func TestProfileAttributesAndUserID(t *testing.T) {
	resetCollector(t)
	setProfiles(t, u1Profile(), fixtureProfile{ExternalIDs: []fixtureID{{"anonymous_id", "anon-only"}},
		Traits: map[string]any{"plan": "free"}})
	c := newProfileClient(t, nil)
	ctx := context.Background()

	attrs, err := c.ProfileAttributes(ctx, "user_id:u1")
	if err != nil {
		t.Fatal(err)
	}
	// Scalar traits only; numbers as float64 (what the SDK's numeric matchers take); no
	// $opt_bucketing_id without AccountBucketing.
	want := map[string]any{"plan": "pro", "logins": float64(12), "beta": true, "score": 4.5}
	if !reflect.DeepEqual(attrs, want) {
		t.Fatalf("attributes = %#v, want %#v", attrs, want)
	}
	// The same profile by another identifier; the user id is the canonical one.
	if id, err := c.ProfileUserID(ctx, "anonymous_id:a1"); err != nil || id != "u1" {
		t.Fatalf("ProfileUserID(anonymous_id:a1) = %q, %v", id, err)
	}
	if id, err := c.ProfileUserID(ctx, "user_id:u1"); err != nil || id != "u1" {
		t.Fatalf("ProfileUserID(user_id:u1) = %q, %v", id, err)
	}

	// Cached: asking again makes no request, and gives a fresh map the caller may change.
	before := len(profileRequests(t))
	attrs["plan"] = "changed"
	again, err := c.ProfileAttributes(ctx, "user_id:u1")
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("cached attributes = %#v, %v", again, err)
	}
	if n := len(profileRequests(t)); n != before {
		t.Fatalf("a cached lookup made %d requests", n-before)
	}
	for _, r := range profileRequests(t) {
		if !r.AuthorizationOK || r.Status != 200 {
			t.Fatalf("profile request %+v: want authorized 200", r)
		}
	}

	// A profile without a user_id: NOT_FOUND for the user id, its traits still found.
	if _, err := c.ProfileUserID(ctx, "anonymous_id:anon-only"); !errors.Is(err, flagwire.ErrNotFound) {
		t.Fatalf("user id of a profile without one: %v, want ErrNotFound", err)
	}
	if a, err := c.ProfileAttributes(ctx, "anonymous_id:anon-only"); err != nil || a["plan"] != "free" {
		t.Fatalf("anon-only attributes = %v, %v", a, err)
	}

	// The traits include list.
	only := newProfileClient(t, func(p *flagwire.ProfileConfig) { p.Traits = []string{"plan", "logins"} })
	if a, err := only.ProfileAttributes(ctx, "user_id:u1"); err != nil ||
		!reflect.DeepEqual(a, map[string]any{"plan": "pro", "logins": float64(12)}) {
		t.Fatalf("attributes with Traits include list = %#v, %v", a, err)
	}
}

func TestProfileNotFound(t *testing.T) {
	resetCollector(t)
	setProfiles(t, u1Profile())
	c := newProfileClient(t, nil)
	ctx := context.Background()
	_, err := c.ProfileAttributes(ctx, "user_id:nobody")
	if !errors.Is(err, flagwire.ErrNotFound) {
		t.Fatalf("unknown profile: %v, want ErrNotFound", err)
	}
	var fe *flagwire.Error
	if !errors.As(err, &fe) || fe.Status != flagwire.StatusNotFound || !strings.Contains(fe.Message, "user_id:nobody") {
		t.Fatalf("error %#v: want *Error NOT_FOUND naming the identifier", err)
	}
	if _, err := c.ProfileUserID(ctx, "user_id:nobody"); !errors.Is(err, flagwire.ErrNotFound) {
		t.Fatalf("unknown profile user id: %v, want ErrNotFound", err)
	}
	// 404s are cached too.
	before := len(profileRequests(t))
	if _, err := c.ProfileAttributes(ctx, "user_id:nobody"); !errors.Is(err, flagwire.ErrNotFound) {
		t.Fatal(err)
	}
	if n := len(profileRequests(t)); n != before {
		t.Fatalf("a cached 404 made %d requests", n-before)
	}
}

func TestProfileUnavailable(t *testing.T) {
	resetCollector(t)
	setProfiles(t, u1Profile())
	ctx := context.Background()

	// An answer slower than timeout_ms: UNAVAILABLE, without waiting for it.
	c := newProfileClient(t, func(p *flagwire.ProfileConfig) { p.TimeoutMS = 200 })
	scriptProfiles(t, map[string]any{"status": 200, "delay_ms": 3000})
	t0 := time.Now()
	_, err := c.ProfileAttributes(ctx, "user_id:u1")
	elapsed := time.Since(t0)
	if !errors.Is(err, flagwire.ErrUnavailable) {
		t.Fatalf("slow answer: %v, want ErrUnavailable", err)
	}
	if elapsed > 2500*time.Millisecond {
		t.Fatalf("the lookup waited %v for a 3 s answer with timeout_ms 200", elapsed)
	}
	// A failure is not cached: the next lookup asks again and gets the profile.
	if a, err := c.ProfileAttributes(ctx, "user_id:u1"); err != nil || a["plan"] != "pro" {
		t.Fatalf("after the slow answer: %v, %v", a, err)
	}

	// 429: UNAVAILABLE, and no request at all until Retry-After (1 s) has passed.
	c2 := newProfileClient(t, nil)
	scriptProfiles(t, map[string]any{"status": 429, "retry_after": "1"})
	before := len(profileRequests(t))
	if _, err := c2.ProfileUserID(ctx, "user_id:u1"); !errors.Is(err, flagwire.ErrUnavailable) {
		t.Fatalf("429: %v, want ErrUnavailable", err)
	}
	if _, err := c2.ProfileUserID(ctx, "user_id:u1"); !errors.Is(err, flagwire.ErrUnavailable) {
		t.Fatalf("during the 429 pause: %v, want ErrUnavailable", err)
	}
	if n := len(profileRequests(t)) - before; n != 1 {
		t.Fatalf("%d requests during the 429 pause, want 1", n)
	}
	var id string
	for i := 0; i < 50; i++ { // up to 5 s
		if id, err = c2.ProfileUserID(ctx, "user_id:u1"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || id != "u1" {
		t.Fatalf("after the 429 pause: %q, %v", id, err)
	}

	// A stale entry is returned instead of UNAVAILABLE.
	c3 := newProfileClient(t, func(p *flagwire.ProfileConfig) { p.CacheTTLMS = 1 })
	if _, err := c3.ProfileAttributes(ctx, "user_id:u1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	scriptProfiles(t, map[string]any{"status": 500})
	before = len(profileRequests(t))
	if a, err := c3.ProfileAttributes(ctx, "user_id:u1"); err != nil || a["plan"] != "pro" {
		t.Fatalf("stale entry on a 500: %v, %v", a, err)
	}
	if n := len(profileRequests(t)) - before; n != 1 {
		t.Fatalf("the expired entry made %d requests, want 1", n)
	}
}

func TestProfileErrors(t *testing.T) {
	resetCollector(t)
	setProfiles(t, u1Profile())
	ctx := context.Background()

	// No Profile config.
	plain := newClient(t, nil)
	if _, err := plain.ProfileAttributes(ctx, "user_id:u1"); !errors.Is(err, flagwire.ErrInvalidConfig) {
		t.Fatalf("without Profile config: %v, want ErrInvalidConfig", err)
	}
	// Profile config is validated by New, naming the key.
	_, err := flagwire.New(flagwire.Config{WriteKey: writeKey, Endpoint: collectorURL, LogLevel: "off",
		Profile: &flagwire.ProfileConfig{SpaceID: profileSpace}})
	if !errors.Is(err, flagwire.ErrInvalidConfig) || !strings.Contains(err.Error(), "access_token") {
		t.Fatalf("profile without access_token: %v", err)
	}

	c := newProfileClient(t, nil)
	for _, bad := range []string{"u1", "user_id:", ":u1", "User_Id:u1"} {
		if _, err := c.ProfileAttributes(ctx, bad); !errors.Is(err, flagwire.ErrInvalidJSON) {
			t.Errorf("identifier %q: %v, want ErrInvalidJSON", bad, err)
		}
		if _, err := c.ProfileUserID(ctx, bad); !errors.Is(err, flagwire.ErrInvalidJSON) {
			t.Errorf("identifier %q: %v, want ErrInvalidJSON", bad, err)
		}
	}
	if _, err := c.ProfileAttributes(ctx, "user_id:\xff"); !errors.Is(err, flagwire.ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8 identifier: %v, want ErrInvalidUTF8", err)
	}
	// A NUL byte is data (identifiers cross as pointer + length, docs/design.md §2.1): the
	// lookup is for "u1\x00x", not for a truncated "u1", whose profile exists.
	before := len(profileRequests(t))
	if a, err := c.ProfileAttributes(ctx, "user_id:u1\x00x"); !errors.Is(err, flagwire.ErrNotFound) {
		t.Errorf("identifier with a NUL byte: %v, %v, want ErrNotFound", a, err)
	}
	if reqs := profileRequests(t)[before:]; len(reqs) != 1 || reqs[0].Identifier != "user_id:u1\x00x" {
		t.Errorf("Profile API requests for an identifier with a NUL byte: %+v", reqs)
	}

	// A cancelled or expired context: nothing is looked up.
	before = len(profileRequests(t))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.ProfileAttributes(cancelled, "user_id:u1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := c.ProfileUserID(expired, "user_id:u1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired ctx: %v", err)
	}
	if n := len(profileRequests(t)) - before; n != 0 {
		t.Fatalf("%d requests with a done ctx", n)
	}

	// After Close.
	if err := c.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProfileAttributes(ctx, "user_id:u1"); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := c.ProfileUserID(ctx, "user_id:u1"); !errors.Is(err, flagwire.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// checkoutRule decides checkout_flow for one user and returns (ruleKey, variationKey).
func checkoutRule(oc *client.OptimizelyClient, userID string, attrs map[string]any) (string, string) {
	user := oc.CreateUserContext(userID, attrs)
	d := user.Decide("checkout_flow", nil)
	return d.RuleKey, d.VariationKey
}

// Account-level bucketing end to end: two users of one account get different variations of
// the experiment on their own, and the same one once $opt_bucketing_id comes from the profile;
// the exposures that reach the collector carry the bucketing id.
func TestProfileAccountBucketingWithTheGoSDK(t *testing.T) {
	resetCollector(t)
	oc := newOptimizely(t, readDatafile(t, "minimal-datafile.json"))

	// 1. With the SDK itself (before attaching, so these decisions send nothing): two user ids
	//    that land in different variations of checkout_ab without a bucketing id...
	var userA, userB, varA string
	for i := 0; i < 200 && userB == ""; i++ {
		id := fmt.Sprintf("acct-user-%d", i)
		rule, variation := checkoutRule(oc, id, nil)
		switch {
		case rule != "checkout_ab":
		case userA == "":
			userA, varA = id, variation
		case variation != varA:
			userB = id
		}
	}
	if userB == "" {
		t.Fatal("no two users in different variations of checkout_ab among 200 candidates")
	}
	//    ...and an account id whose bucket is inside the experiment.
	var account, accountVariation string
	for i := 0; i < 200 && account == ""; i++ {
		g := fmt.Sprintf("acct-%d", i)
		if rule, variation := checkoutRule(oc, userA, map[string]any{"$opt_bucketing_id": g}); rule == "checkout_ab" {
			account, accountVariation = g, variation
		}
	}
	if account == "" {
		t.Fatal("no account id buckets into checkout_ab among 200 candidates")
	}
	t.Logf("users %s / %s, account %s -> %s", userA, userB, account, accountVariation)

	// 2. Both users' profiles link to that account.
	setProfiles(t,
		fixtureProfile{ExternalIDs: []fixtureID{{"user_id", userA}}, Traits: map[string]any{"plan": "pro"},
			Links: []fixtureID{{"group_id", account}}},
		fixtureProfile{ExternalIDs: []fixtureID{{"user_id", userB}}, Traits: map[string]any{"plan": "team"},
			Links: []fixtureID{{"group_id", account}}})
	fw := newProfileClient(t, func(p *flagwire.ProfileConfig) { p.AccountBucketing = true })
	mustAttach(t, fw, oc)

	// 3. Decide with the profile's attributes: same variation for both.
	ctx := context.Background()
	got := map[string]string{}
	for _, u := range []string{userA, userB} {
		attrs, err := fw.ProfileAttributes(ctx, "user_id:"+u)
		if err != nil {
			t.Fatal(err)
		}
		if attrs["$opt_bucketing_id"] != account {
			t.Fatalf("%s attributes %v: want $opt_bucketing_id %q", u, attrs, account)
		}
		rule, variation := checkoutRule(oc, u, attrs)
		if rule != "checkout_ab" {
			t.Fatalf("%s with the account's bucketing id decided rule %q", u, rule)
		}
		got[u] = variation
	}
	if got[userA] != got[userB] || got[userA] != accountVariation {
		t.Fatalf("variations with the profile's bucketing id: %v, want both %q", got, accountVariation)
	}

	// 4. The two exposures reach the collector with the bucketing id in userAttributes.
	if err := fw.Flush(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitCollector(t, 2, 10*time.Second)
	msgs := collectorMessages(t)
	if len(msgs) != 2 {
		t.Fatalf("collector holds %d messages, want 2: %v", len(msgs), msgs)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		p := props(m)
		ua, _ := p["userAttributes"].(map[string]any)
		if str(m, "event") != "Experiment Viewed" || str(p, "ruleKey") != "checkout_ab" ||
			str(p, "variationKey") != accountVariation || ua["$opt_bucketing_id"] != account || ua["plan"] == nil {
			t.Fatalf("exposure %v: want checkout_ab/%s with userAttributes.$opt_bucketing_id %q", m, accountVariation, account)
		}
		seen[str(m, "userId")] = true
	}
	if !seen[userA] || !seen[userB] {
		t.Fatalf("exposures for %v, want %s and %s", seen, userA, userB)
	}
}

// Numeric traits work in the SDK's audience conditions because they are float64: the same
// attributes with json.Number numbers fail a "logins gt 10" audience.
func TestProfileNumbersMatchSDKAudiences(t *testing.T) {
	resetCollector(t)
	var df map[string]any
	if err := json.Unmarshal(readDatafile(t, "minimal-datafile.json"), &df); err != nil {
		t.Fatal(err)
	}
	df["attributes"] = []any{map[string]any{"id": "9200", "key": "logins"}}
	df["typedAudiences"] = []any{map[string]any{"id": "9100", "name": "power users",
		"conditions": []any{"and", []any{"or", map[string]any{
			"type": "custom_attribute", "name": "logins", "match": "gt", "value": 10}}}}}
	exp := df["experiments"].([]any)[0].(map[string]any)
	exp["audienceIds"] = []any{"9100"}
	exp["audienceConditions"] = []any{"or", "9100"}
	raw, _ := json.Marshal(df)
	oc := newOptimizely(t, raw)

	// A user whose bucket is inside the experiment when the audience matches.
	var user string
	for i := 0; i < 200 && user == ""; i++ {
		id := fmt.Sprintf("aud-user-%d", i)
		if rule, _ := checkoutRule(oc, id, map[string]any{"logins": float64(12)}); rule == "checkout_ab" {
			user = id
		}
	}
	if user == "" {
		t.Fatal("no user in checkout_ab among 200 candidates")
	}
	setProfiles(t,
		fixtureProfile{ExternalIDs: []fixtureID{{"user_id", user}}, Traits: map[string]any{"logins": 12}},
		fixtureProfile{ExternalIDs: []fixtureID{{"user_id", "few-logins"}}, Traits: map[string]any{"logins": 3}})
	fw := newProfileClient(t, nil)
	attrs, err := fw.ProfileAttributes(context.Background(), "user_id:"+user)
	if err != nil {
		t.Fatal(err)
	}
	if rule, _ := checkoutRule(oc, user, attrs); rule != "checkout_ab" {
		t.Fatalf("profile attributes %v: rule %q, want the audience to match (checkout_ab)", attrs, rule)
	}
	asNumber := map[string]any{"logins": json.Number("12")}
	if rule, _ := checkoutRule(oc, user, asNumber); rule == "checkout_ab" {
		t.Fatal("json.Number matched the audience; the float64 choice is no longer needed")
	}
	few, err := fw.ProfileAttributes(context.Background(), "user_id:few-logins")
	if err != nil {
		t.Fatal(err)
	}
	if rule, _ := checkoutRule(oc, user, few); rule == "checkout_ab" {
		t.Fatalf("logins 3 matched the audience %v", few)
	}
}
