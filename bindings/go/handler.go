package flagwire

import (
	"encoding/json"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

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
// Flag decisions (the decide API) take the library's allocation-light path: the keys are
// passed as C strings, attributes as JSON only when non-empty. Legacy types (feature,
// feature-test, ab-test, ...) are passed as the whole notification in JSON.
func (c *Client) HandleDecision(n notification.DecisionNotification) (queued bool, err error) {
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	var st Status
	var p cptr
	var ok bool
	if fast, okFast := c.encodeFlag(buf, n); okFast {
		buf = fast.buf
		if p, ok = c.acquire(); !ok {
			putBuf(bp, buf)
			return false, ErrClosed
		}
		st = cOnFlagDecision(p, buf, fast.user, fast.flag, fast.rule, fast.variation, fast.attrs, fast.enabled, fast.dispatched)
	} else {
		buf, err = c.encodeNotification(buf, n)
		if err != nil {
			putBuf(bp, buf)
			return false, err
		}
		if p, ok = c.acquire(); !ok {
			putBuf(bp, buf)
			return false, ErrClosed
		}
		st = cOnDecision(p, buf)
	}
	if st != StatusOK && st != StatusSkipped {
		err = c.errorFor(p, st)
	}
	c.release()
	runtime.KeepAlive(c)
	putBuf(bp, buf)
	return st == StatusOK, err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func putBuf(bp *[]byte, buf []byte) {
	if cap(buf) > 64<<10 {
		return // don't keep outsized buffers alive
	}
	*bp = buf[:0]
	bufPool.Put(bp)
}

type flagArgs struct {
	buf                                []byte
	user, flag, rule, variation, attrs int
	enabled                            bool
	dispatched                         int32
}

// encodeFlag lays the fast path's strings out NUL-terminated in one buffer. It declines (false)
// whatever the fast path cannot carry exactly, and the notification then goes as JSON: a
// non-flag type, a missing or non-string key, a NUL inside a string, or rule ids that only the
// notification knows (no datafile given yet: the fast path has no experimentId/variationId).
func (c *Client) encodeFlag(buf []byte, n notification.DecisionNotification) (flagArgs, bool) {
	var a flagArgs
	if n.Type != notification.Flag {
		return a, false
	}
	info := n.DecisionInfo
	flag, ok1 := info["flagKey"].(string)
	rule, ok2 := optString(info["ruleKey"])
	variation, ok3 := optString(info["variationKey"])
	if !ok1 || !ok2 || !ok3 || flag == "" {
		return a, false
	}
	if !c.hasDatafile.Load() {
		if id, _ := info["experimentId"].(string); id != "" {
			return a, false
		}
	}
	user := n.UserContext.ID
	if hasNUL(user) || hasNUL(flag) || hasNUL(rule) || hasNUL(variation) {
		return a, false
	}
	switch v := info["enabled"].(type) {
	case bool:
		a.enabled = v
	case nil:
	default:
		return a, false
	}
	a.dispatched = -1
	switch v := info["decisionEventDispatched"].(type) {
	case bool:
		if v {
			a.dispatched = 1
		} else {
			a.dispatched = 0
		}
	case nil:
	default:
		return a, false
	}
	a.user = len(buf)
	buf = append(append(buf, user...), 0)
	a.flag = len(buf)
	buf = append(append(buf, flag...), 0)
	a.rule = len(buf)
	buf = append(append(buf, rule...), 0)
	a.variation = len(buf)
	buf = append(append(buf, variation...), 0)
	a.attrs = -1
	if c.includeAttributes && len(n.UserContext.Attributes) > 0 {
		start := len(buf)
		var err error
		if buf, err = appendJSONObject(buf, n.UserContext.Attributes); err != nil {
			return a, false // let the JSON path report it
		}
		buf = append(buf, 0)
		a.attrs = start
	}
	a.buf = buf
	return a, true
}

func optString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case nil:
		return "", true
	}
	return "", false
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// wireNotification is the JSON shape flagwire_on_decision takes (DESIGN §4).
type wireNotification struct {
	Type         string         `json:"type"`
	UserID       string         `json:"userId"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	DecisionInfo map[string]any `json:"decisionInfo"`
}

func (c *Client) encodeNotification(buf []byte, n notification.DecisionNotification) ([]byte, error) {
	w := wireNotification{
		Type:         string(n.Type),
		UserID:       n.UserContext.ID,
		DecisionInfo: n.DecisionInfo,
	}
	if c.includeAttributes {
		w.Attributes = n.UserContext.Attributes
	}
	js, err := json.Marshal(w)
	if err != nil {
		return buf, &Error{Status: StatusInvalidJSON, Message: "notification: " + err.Error()}
	}
	return append(append(buf, js...), 0), nil
}

// appendJSONObject encodes attribute maps without reflection for the usual value types
// (strings, booleans, numbers, nil) and falls back to encoding/json for the rest.
func appendJSONObject(buf []byte, m map[string]any) ([]byte, error) {
	buf = append(buf, '{')
	first := true
	for k, v := range m {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		var err error
		if buf, err = appendJSONValue(buf, v); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

func appendJSONValue(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return appendJSONString(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case float64:
		return appendJSONFloat(buf, x, 64)
	case float32:
		return appendJSONFloat(buf, float64(x), 32)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return buf, err
	}
	return append(buf, js...), nil
}

// appendJSONFloat formats as encoding/json does.
func appendJSONFloat(buf []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return buf, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, bits)}
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(buf) - start
		if n >= 4 && buf[len(buf)-4] == 'e' && buf[len(buf)-3] == '-' && buf[len(buf)-2] == '0' {
			buf[len(buf)-2] = buf[len(buf)-1]
			buf = buf[:len(buf)-1]
		}
	}
	return buf, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as JSON: control characters escaped, invalid UTF-8 replaced by
// U+FFFD (as encoding/json does), U+2028/U+2029 escaped.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
