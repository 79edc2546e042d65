package flagwire

import (
	"encoding/json"
	"time"

	"github.com/optimizely/go-sdk/v2/pkg/notification"
)

// OnDecision is a DECISION notification handler: pass it to the SDK yourself, e.g.
//
//	optimizelyClient.GetNotificationCenter().AddHandler(notification.Decision, ...)
//
// or let Attach register it. A flag decision is encoded as a decision record stamped with the
// time of the call and buffered; a hand-over goroutine passes the records to the library
// within a few milliseconds, off the SDK's goroutine (buffer.go). Flush, Stats and Close
// hand over first. Other decisions go at once, as HandleDecision sends them.
//
// It never panics into the SDK (a panic in a Go handler makes decide return a zero decision)
// and never blocks. What fails here (a closed client, attributes that cannot be encoded, and
// for decisions handed over at once the library's error) is counted in Stats.HandlerErrors
// and passed to Config.OnError; what the library does with buffered records (skipped,
// dropped because its queue is full or the input invalid) is counted in the library's Stats.
func (c *Client) OnDecision(n notification.DecisionNotification) {
	defer func() {
		if r := recover(); r != nil {
			c.report.panics.Add(1)
		}
	}()
	var err error
	r, ok := flagRecordOf(&n, c.includeAttributes)
	switch {
	case !ok:
		_, err = c.HandleDecision(n)
	case !r.validUTF8(): // the library's INVALID_UTF8 is then this decision's error
		_, err = c.sendRecord(&r)
	default:
		r.atMS = time.Now().UnixMilli()
		if err = c.h.decisions.add(&r); err == errBufferFull {
			_, err = c.sendRecord(&r)
		}
	}
	if err != nil {
		c.report.fail(err)
	}
}

// HandleDecision hands one notification to the library at once, on the calling goroutine,
// and returns the outcome: queued reports whether an Experiment Viewed event was queued;
// (false, nil) means the decision is valid but not an exposure.
//
// The binding only converts; the library decides what is an exposure (docs/design.md §8).
// Flag decisions (the decide API) go as one decision record each (record.go), whatever their
// strings hold: NUL bytes are data, and the notification's experiment and variation ids are
// carried whether or not a datafile was given. Legacy types (feature, feature-test, ab-test,
// ...) go as the whole notification in JSON.
func (c *Client) HandleDecision(n notification.DecisionNotification) (queued bool, err error) {
	if r, ok := flagRecordOf(&n, c.includeAttributes); ok {
		return c.sendRecord(&r)
	}
	js, err := notificationJSON(&n, c.includeAttributes)
	if err != nil {
		return false, err
	}
	s := getScratch()
	defer s.release()
	st, err := c.call(s, func(p cptr) Status { return cOnNotificationJSON(p, s, js) })
	return st == StatusOK, err
}

// sendRecord hands one decision record to the library at once.
func (c *Client) sendRecord(r *flagRecord) (queued bool, err error) {
	s := getScratch()
	defer s.release()
	if s.buf, err = appendRecord(s.buf[:0], r); err != nil {
		return false, err
	}
	st, err := c.call(s, func(p cptr) Status { return cOnDecisionRecord(p, s, s.buf) })
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
