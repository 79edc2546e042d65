package flagwire

import (
	"context"
	"fmt"
	"runtime"
	"strings"
)

// Segment Profile API (DESIGN §7): the second half of the integration, before decide. Both
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

type profileKind int

const (
	profileAttributes profileKind = iota
	profileUserID
)

// ProfileAttributes returns the profile's traits as Optimizely user attributes, ready for
// optimizelyClient.CreateUserContext(userID, attrs): scalar traits only (string, bool, number),
// filtered by Profile.Traits when set, plus "$opt_bucketing_id" set to the user's account
// (group_id) when Profile.AccountBucketing is true, so all users of one account get the same
// variation. identifier is "<type>:<value>", e.g. "user_id:abc" or "anonymous_id:x".
//
// Numbers are float64, which is what the Go SDK's audience matchers take (exact, gt, ge, lt, le
// convert the attribute with reflect to float64; a json.Number is a string type and would fail
// every numeric and string condition). Integers above 2^53 lose precision, as in any JSON
// decoded by encoding/json's default.
//
// Each call returns a new map; the caller may modify it.
//
// Errors (compare with errors.Is): ErrNotFound (no such profile); ErrUnavailable (the API
// failed, answered 429 or did not answer within TimeoutMS, and nothing is cached); ErrInvalidConfig
// (Config.Profile is not set); ErrInvalidJSON (identifier is not "<type>:<value>"); ErrClosed;
// ctx.Err().
func (c *Client) ProfileAttributes(ctx context.Context, identifier string) (map[string]interface{}, error) {
	_, js, err := c.profileLookup(ctx, identifier, profileAttributes)
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
	id, _, err := c.profileLookup(ctx, identifier, profileUserID)
	return id, err
}

func (c *Client) profileLookup(ctx context.Context, identifier string, kind profileKind) (string, string, error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return "", "", err
		}
	}
	if strings.IndexByte(identifier, 0) >= 0 {
		// C would see a shorter string; refuse it as the library refuses a malformed identifier.
		return "", "", &Error{Status: StatusInvalidJSON, Message: fmt.Sprintf("identifier %q contains a NUL byte", identifier)}
	}
	buf := nulTerminated(identifier)
	p, ok := c.acquire()
	if !ok {
		return "", "", ErrClosed
	}
	var (
		st Status
		id string
		js string
	)
	if kind == profileAttributes {
		st, js = cProfileAttributes(p, buf)
	} else {
		st, id = cProfileUserID(p, buf)
	}
	var err error
	switch st {
	case StatusOK:
	case StatusNotFound:
		err = &Error{Status: st, Message: fmt.Sprintf("profile %q not found", identifier)}
	case StatusUnavailable:
		// The reason is the client's most recent error text; with concurrent failing lookups
		// it may be another call's (the C ABI has no per-call message).
		why, _ := cLastError(p)
		err = &Error{Status: st, Message: fmt.Sprintf("profile %q unavailable: %s", identifier, why)}
	default:
		err = c.errorFor(p, st)
		if err == nil { // SKIPPED cannot come from a lookup
			err = &Error{Status: st}
		}
	}
	c.release()
	runtime.KeepAlive(c)
	runtime.KeepAlive(buf)
	if err != nil {
		return "", "", err
	}
	return id, js, nil
}
