package flagwire

import (
	"encoding/json"

	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

// OnDecision is a DECISION notification handler: pass it to the SDK yourself, e.g.
//
//	optimizelyClient.GetNotificationCenter().AddHandler(notification.Decision, ...)
//
// or let Attach register it. It never panics into the SDK (a panic in a Go handler makes
// decide return a zero decision): errors and recovered panics are counted in Stats and passed
// to Config.OnError. SKIPPED (not an exposure) is not an error.
func (c *Client) OnDecision(n notification.DecisionNotification) {
	defer func() {
		if r := recover(); r != nil {
			c.handlerPanics.Add(1)
		}
	}()
	if _, err := c.HandleDecision(n); err != nil {
		c.handlerErrors.Add(1)
		if c.onError != nil {
			c.onError(err)
		}
	}
}

// HandleDecision is OnDecision with the outcome: queued reports whether an Experiment Viewed
// event was queued; (false, nil) means the decision is valid but not an exposure.
//
// The binding only converts; the library decides what is an exposure (docs/design.md §8).
// Flag decisions (the decide API) go as one decision record each (record.go), whatever their
// strings hold: NUL bytes are data, and the notification's experiment and variation ids are
// carried whether or not a datafile was given. Legacy types (feature, feature-test, ab-test,
// ...) go as the whole notification in JSON.
func (c *Client) HandleDecision(n notification.DecisionNotification) (queued bool, err error) {
	s := getScratch()
	defer s.release()
	var st Status
	if r, ok := flagRecordOf(&n, c.includeAttributes); ok {
		if s.buf, err = appendRecord(s.buf[:0], &r); err != nil {
			return false, err
		}
		st, err = c.call(s, func(p cptr) Status { return cOnDecisionRecord(p, s, s.buf) })
	} else {
		js, jerr := notificationJSON(&n, c.includeAttributes)
		if jerr != nil {
			return false, jerr
		}
		st, err = c.call(s, func(p cptr) Status { return cOnNotificationJSON(p, s, js) })
	}
	return st == StatusOK, err
}

// flagRecordOf reads a "flag" notification as the Go SDK builds it (decision.FlagNotification:
// flagKey, ruleKey, variationKey, experimentId, variationId strings; enabled and
// decisionEventDispatched bools). Absent values are absent in the record. It declines (false)
// other types, and values of a type the record cannot carry (never from the SDK): those go as
// JSON, so the library, not the binding, judges them and names the key.
func flagRecordOf(n *notification.DecisionNotification, withAttributes bool) (r flagRecord, ok bool) {
	if n.Type != notification.Flag {
		return r, false
	}
	info := n.DecisionInfo
	r.strings[0] = n.UserContext.ID
	for i, key := range flagInfoKeys {
		switch v := info[key].(type) {
		case string:
			r.strings[i+1] = v
		case nil:
		default:
			return r, false
		}
	}
	if r.enabled, ok = tristate(info["enabled"]); !ok {
		return r, false
	}
	if r.dispatched, ok = tristate(info["decisionEventDispatched"]); !ok {
		return r, false
	}
	if withAttributes { // with include_attributes off the library ignores them: don't encode
		r.attributes = n.UserContext.Attributes
	}
	return r, true
}

// flagInfoKeys are the decision-info keys of the record's string fields after the user id.
var flagInfoKeys = [recordStrings - 1]string{"flagKey", "ruleKey", "variationKey", "experimentId", "variationId"}

// tristate maps a bool to the record's 1 / 0, and absence to -1 (unknown).
func tristate(v any) (int8, bool) {
	switch b := v.(type) {
	case bool:
		if b {
			return 1, true
		}
		return 0, true
	case nil:
		return -1, true
	}
	return 0, false
}

// wireNotification is the JSON shape flagwire_on_notification_json takes (docs/design.md §4).
type wireNotification struct {
	Type         string         `json:"type"`
	UserID       string         `json:"userId"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	DecisionInfo map[string]any `json:"decisionInfo"`
}

func notificationJSON(n *notification.DecisionNotification, withAttributes bool) ([]byte, error) {
	w := wireNotification{Type: string(n.Type), UserID: n.UserContext.ID, DecisionInfo: n.DecisionInfo}
	if withAttributes {
		w.Attributes = n.UserContext.Attributes
	}
	js, err := json.Marshal(w)
	if err != nil {
		return nil, &Error{Status: StatusInvalidJSON, Message: "notification: " + err.Error()}
	}
	return js, nil
}
