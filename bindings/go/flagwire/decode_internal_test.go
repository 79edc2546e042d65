package flagwire

import (
	"encoding/json"
	"reflect"
	"testing"
)

var attributeSamples = []string{
	`{}`, ` { } `, `{"plan":"pro","seats":40,"beta":true,"$opt_bucketing_id":"acme"}`,
	`{"a":null,"b":false,"c":-0,"d":0.5,"e":-1.25e-3,"f":1E+21,"g":12345678901234567890}`,
	"{\n \"k\" : \"v\" ,\t\"n\" : 1 }", `{"dup":1,"dup":2}`, `{"é😀":"ü"}`, `{"k":""}`, `{"":1}`,
	// fallbacks (escapes, nesting, invalid UTF-8) and invalid JSON
	`{"k":"a\"b"}`, `{"k":"\u00e9\n"}`, `{"k\/":1}`, `{"k":{"x":1}}`, `{"k":[1]}`, "{\"k\":\"\xff\"}",
	`{"k":1e400}`, `{"k":01}`, `{"k":1.}`, `{"k":.5}`, `{"k":+1}`, `{"k":-}`, `{"k":1e}`, `{"k":tru}`,
	`{"k":1,}`, `{"k" 1}`, `{"k":1`, `{"k":1} x`, `{k:1}`, `[]`, `null`, ``, `"s"`, `{"k":"a` + "\x01" + `"}`,
	`{"k":NaN}`, `{"k":1}}`, `{,}`,
}

// decodeAttributes agrees with json.Unmarshal on every input: value for value, error or not.
func TestDecodeAttributesMatchesEncodingJSON(t *testing.T) {
	for _, s := range attributeSamples {
		checkDecode(t, s)
	}
}

func FuzzDecodeAttributes(f *testing.F) {
	for _, s := range attributeSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkDecode(t, s) })
}

func checkDecode(t *testing.T, s string) {
	t.Helper()
	var want map[string]interface{}
	wantErr := json.Unmarshal([]byte(s), &want)
	got, err := decodeAttributes(s)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", s, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %#v, encoding/json %#v", s, got, want)
	}
}
