package flagwire

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// The hand-rolled attribute encoder must agree with encoding/json (HTML escaping off).
func TestAppendJSONValueMatchesEncodingJSON(t *testing.T) {
	values := []any{
		nil, true, false, "", "plain", "a\"b\\c", "\n\r\t\x00\x01\x1f\x7f", "é😀", "\u2028\u2029", "x\xffy\xc3",
		"<&>", 0, -1, 42, int64(math.MaxInt64), int64(math.MinInt64), int32(-7), uint64(math.MaxUint64),
		0.0, -0.0, 0.1, 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, -2.5e-300, math.MaxFloat64,
		float32(3.14), float32(1e-7), float32(1e21), float32(0.1),
		[]string{"a"}, map[string]any{"k": 1}, uint8(3),
	}
	for _, v := range values {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		got, err := appendJSONValue(nil, v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Errorf("%#v: got %s want %s", v, got, w)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), make(chan int)} {
		if _, err := appendJSONValue(nil, bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want uint32
	}{{-5, 0}, {0, 0}, {1, 1}, {1e6, 1}, {1e6 + 1, 2}, {math.MaxInt64, math.MaxUint32}} {
		if got := millis(time.Duration(tc.in)); got != tc.want {
			t.Errorf("millis(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
