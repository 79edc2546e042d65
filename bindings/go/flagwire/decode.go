package flagwire

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeAttributes decodes the library's attributes JSON, a flat object of scalars
// ({"plan":"pro","seats":40,"beta":true,"$opt_bucketing_id":"acme"}), into the map
// CreateUserContext takes, numbers as float64. The fast path handles exactly that shape (no
// escapes, no nesting) in one pass, about 3x cheaper than encoding/json; anything else goes
// to json.Unmarshal. Either way the result equals json.Unmarshal's. Keys and string values
// of the fast path are substrings of js (no copies).
func decodeAttributes(js string) (map[string]interface{}, error) {
	if m, ok := decodeFlatObject(js); ok {
		return m, nil
	}
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// decodeFlatObject returns false for any input it does not handle (the caller falls back).
func decodeFlatObject(b string) (map[string]interface{}, bool) {
	i := 0
	ws := func() {
		for i < len(b) && isJSONSpace(b[i]) {
			i++
		}
	}
	// str reads a string without escapes or control characters, valid UTF-8.
	str := func() (string, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		start := i + 1
		for j := start; j < len(b); j++ {
			c := b[j]
			if c == '"' {
				s := b[start:j]
				if !utf8.ValidString(s) {
					return "", false // encoding/json substitutes U+FFFD; let it
				}
				i = j + 1
				return s, true
			}
			if c == '\\' || c < 0x20 {
				return "", false
			}
		}
		return "", false
	}
	ws()
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i++
	m := make(map[string]interface{}, strings.Count(b, ",")+1)
	ws()
	if i < len(b) && b[i] == '}' {
		i++
		ws()
		return m, i == len(b)
	}
	for {
		ws()
		key, ok := str()
		if !ok {
			return nil, false
		}
		ws()
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i++
		ws()
		if i >= len(b) {
			return nil, false
		}
		var v interface{}
		switch c := b[i]; {
		case c == '"':
			if v, ok = str(); !ok {
				return nil, false
			}
		case c == 't' && strings.HasPrefix(b[i:], "true"):
			v, i = true, i+4
		case c == 'f' && strings.HasPrefix(b[i:], "false"):
			v, i = false, i+5
		case c == 'n' && strings.HasPrefix(b[i:], "null"):
			v, i = nil, i+4
		case c == '-' || (c >= '0' && c <= '9'):
			end, ok := scanJSONNumber(b, i)
			if !ok {
				return nil, false
			}
			f, err := strconv.ParseFloat(b[i:end], 64)
			if err != nil {
				return nil, false // out of range: encoding/json reports it
			}
			v, i = f, end
		default:
			return nil, false // object, array, or invalid
		}
		m[key] = v
		ws()
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			i++
			ws()
			return m, i == len(b)
		default:
			return nil, false
		}
	}
}

// scanJSONNumber returns the end of the JSON number (RFC 8259 grammar) starting at i.
func scanJSONNumber(b string, i int) (int, bool) {
	digits := func() bool {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > s
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}
