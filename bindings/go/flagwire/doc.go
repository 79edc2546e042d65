// Package flagwire turns Optimizely Feature Experimentation DECISION notifications from the Go
// SDK (github.com/optimizely/go-sdk/v2) into Segment "Experiment Viewed" events, through the
// flagwire core (a Rust library with a C ABI, linked with cgo; see README.md for building).
//
//	fw, err := flagwire.New(flagwire.Config{WriteKey: os.Getenv("SEGMENT_WRITE_KEY")})
//	if err != nil { ... }
//	defer fw.Close(5 * time.Second)
//	detach, err := fw.Attach(optimizelyClient) // DECISION listener + datafile on every update
//	...
//	user.Decide("checkout_flow", nil)          // experiment exposures are sent; rollouts are not
//
// Before deciding, the Segment Profile API gives attributes and identity (Config.Profile):
//
//	attrs, err := fw.ProfileAttributes(ctx, "user_id:"+userID) // traits (+ $opt_bucketing_id)
//	if err != nil { attrs = nil }                               // decide without enrichment
//	user := optimizelyClient.CreateUserContext(userID, attrs)
//
// Only experiment exposures become events: the core classifies each decision by flag from the
// datafile (experiment vs delivery rule) and skips decisions made with DISABLE_DECISION_EVENT.
// The binding only converts (docs/design.md §8): each flag decision becomes one decision
// record, handed to the core in batches off the SDK's goroutine. The core's log lines go to
// log/slog (Config.Logger). Every method is safe for concurrent use; the handler never blocks
// and never panics into the SDK.
package flagwire
