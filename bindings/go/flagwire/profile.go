package flagwire

import "context"

// Segment Profile API (docs/design.md §7): the second half of the integration, before decide. Both
// lookups need Config.Profile; they run on the calling goroutine (inside one cgo call) through
// the library's TTL + LRU cache, with one request in flight per identifier, and wait at most
// Profile.TimeoutMS (default 300 ms) for the API. A lookup that fails or times out answers with
// the stale cached entry when there is one.
//
// On any error, decide without enrichment: the profile lookup never has to break a decision.
//
//	attrs, err := fw.ProfileAttributes(ctx, "user_id:"+userID)
//	if err != nil {
//		attrs = map[string]interface{}{} // ErrNotFound, ErrUnavailable, ...: decide anyway
//	}
//	user := optimizelyClient.CreateUserContext(userID, attrs)
//
// Context: ctx is checked before the call (a cancelled or expired ctx returns ctx.Err() and
// nothing is looked up). It cannot interrupt a lookup already running: the wait happens inside
// the library, which bounds it by Profile.TimeoutMS. To keep a request's deadline, set TimeoutMS
// no longer than the time you can spend before decide.
//
// Close waits for lookups already running (each at most TimeoutMS); lookups that start after
// Close began return ErrClosed.

// profileField is what flagwire_profile_lookup returns (FlagwireProfileField; checked against
// the header in capi.go).
type profileField int32

const (
	profileAttributes profileField = 1
	profileUserID     profileField = 2
)

// ProfileAttributes returns the profile's traits as Optimizely user attributes, ready for
// optimizelyClient.CreateUserContext(userID, attrs): scalar traits only (string, bool, number),
// filtered by Profile.Traits when set, plus "$opt_bucketing_id" set to the user's account
// (group_id) when Profile.AccountBucketing is true, so all users of one account get the same
// variation. identifier is "<type>:<value>", e.g. "user_id:abc" or "anonymous_id:x"; the value
// is taken as it is (a NUL byte is data, percent-encoded by the library).
//
// Numbers are float64, which is what the Go SDK's audience matchers take (exact, gt, ge, lt, le
// convert the attribute with reflect to float64; a json.Number is a string type and would fail
// every numeric and string condition). Integers above 2^53 lose precision, as in any JSON
// decoded by encoding/json's default.
//
// Each call returns a new map; the caller may modify it.
//
// Errors (compare with errors.Is; the message is the library's, for this call): ErrNotFound (no
// such profile); ErrUnavailable (the API failed, answered 429 or did not answer within
// TimeoutMS, and nothing is cached); ErrInvalidConfig (Config.Profile is not set);
// ErrInvalidJSON (identifier is not "<type>:<value>"); ErrInvalidUTF8; ErrClosed; ctx.Err().
func (c *Client) ProfileAttributes(ctx context.Context, identifier string) (map[string]interface{}, error) {
	js, err := c.profileLookup(ctx, profileAttributes, identifier)
	if err != nil {
		return nil, err
	}
	attrs, err := decodeAttributes(js) // numbers as float64, as json.Unmarshal gives them
	if err != nil {
		return nil, &Error{Status: StatusInvalidJSON, Message: "profile attributes: " + err.Error()}
	}
	if attrs == nil { // "null" cannot come from the library, but keep the promise of a map
		attrs = map[string]interface{}{}
	}
	return attrs, nil
}

// ProfileUserID returns the profile's user_id external id (the earliest when the space allows
// several): the canonical id to bucket on across platforms, e.g. for an "anonymous_id:x"
// identifier. Errors as ProfileAttributes; ErrNotFound also when the profile has no user_id.
func (c *Client) ProfileUserID(ctx context.Context, identifier string) (string, error) {
	return c.profileLookup(ctx, profileUserID, identifier)
}

// profileLookup is one flagwire_profile_lookup call: the value on OK, else the call's error.
func (c *Client) profileLookup(ctx context.Context, field profileField, identifier string) (string, error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	s := getScratch()
	defer s.release()
	if _, err := c.call(s, func(p cptr) Status { return cProfileLookup(p, s, field, identifier) }); err != nil {
		return "", err
	}
	return takeString(&s.valOut), nil
}
