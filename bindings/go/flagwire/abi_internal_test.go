package flagwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// capi.go checks at compile time that every status the Go code names has the header's number;
// this also catches a status the header has and the Go table lacks.
func TestStatusTableMatchesHeader(t *testing.T) {
	h, err := os.ReadFile(filepath.Join("..", "..", "..", "include", "flagwire.h"))
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`FLAGWIRE_STATUS_([A-Z0-9_]+) = (\d+),`).FindAllSubmatch(h, -1)
	if len(found) == 0 {
		t.Fatal("no FLAGWIRE_STATUS_ lines in the header")
	}
	for _, m := range found {
		n, _ := strconv.Atoi(string(m[2]))
		if got := Status(n).String(); got != string(m[1]) {
			t.Errorf("status %d: header %s, Go %s", n, m[1], got)
		}
		if st := Status(n); st != StatusOK && st != StatusSkipped {
			if e, ok := sentinelFor(st).(*Error); !ok || e.Status != st || sentinelFor(st) != sentinelFor(st) {
				t.Errorf("status %s has no sentinel error", st)
			}
		}
	}
	if len(found) != len(statusNames) {
		t.Errorf("header has %d statuses, Go %d", len(found), len(statusNames))
	}
}

// The record encoder writes the documented layout (docs/design.md §2.2), checked field by field
// against a record built by hand.
func TestRecordLayout(t *testing.T) {
	r := flagRecord{strings: [recordStrings]string{"u\x00", "flag", "", "var", "2001", ""}, enabled: 1, dispatched: -1,
		attributes: map[string]any{"plan": "pro"}}
	got, err := appendRecord([]byte("prefix"), &r)
	if err != nil {
		t.Fatal(err)
	}
	attrs := `{"plan":"pro"}`
	var want bytes.Buffer
	want.WriteString("prefix")
	le := func(v any) { _ = binary.Write(&want, binary.LittleEndian, v) }
	le(uint32(44 + 2 + 4 + 0 + 3 + 4 + 0 + len(attrs)))
	want.Write([]byte{1, 1, 0xff, 0})
	le(int64(0))
	for _, n := range []uint32{2, 4, 0, 3, 4, 0, uint32(len(attrs))} {
		le(n)
	}
	want.WriteString("u\x00flagvar2001" + attrs)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("record\n got % x\nwant % x", got, want.Bytes())
	}
	// Unencodable attributes: an error, and the buffer is left as it was.
	r.attributes = map[string]any{"ch": make(chan int)}
	if got, err := appendRecord([]byte("prefix"), &r); err == nil || string(got) != "prefix" {
		t.Fatalf("unencodable attributes: %q, %v", got, err)
	}
}

// Encoding a decision into the pooled buffer allocates nothing.
func TestRecordEncodingDoesNotAllocate(t *testing.T) {
	r := flagRecord{strings: [recordStrings]string{"user-1", "checkout_flow", "checkout_ab", "treatment", "2001", "5002"},
		enabled: 1, dispatched: 1, attributes: map[string]any{"plan": "premium", "country": "DE", "logins": 12}}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(1000, func() { buf, _ = appendRecord(buf[:0], &r) }); n != 0 {
		t.Fatalf("%v allocations per record", n)
	}
}

// After Close, the log callback's handle is deleted (the library no longer calls back).
func TestCloseDeletesTheLogHandle(t *testing.T) {
	c, err := New(Config{WriteKey: "k", LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	h := c.h.log
	if _, ok := h.Value().(*logRoute); !ok {
		t.Fatal("no log route behind the handle")
	}
	if err := c.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("the handle is still valid after Close")
		}
	}()
	h.Value()
}

// Config has a field for every key of the library's config (docs/design.md §3, §7), and Stats
// for every counter (§6); the library validates the config (an unknown or bad key is
// INVALID_CONFIG naming it), Go only names the keys.
func TestConfigCoversTheDesignKeys(t *testing.T) {
	design, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := func(title string) string {
		s := string(design)
		i := strings.Index(s, title)
		if i < 0 {
			t.Fatalf("no %q in docs/design.md", title)
		}
		s = s[i+len(title):]
		if j := strings.Index(s, "\n## "); j >= 0 {
			s = s[:j]
		}
		return s
	}
	keysOf := func(text string) []string {
		var keys []string
		for _, m := range regexp.MustCompile("(?m)^\\| `?([a-z_]+)`?( / `?([a-z_]+)`?)? \\|").FindAllStringSubmatch(text, -1) {
			if m[1] == "key" {
				continue
			}
			keys = append(keys, m[1])
			if m[3] != "" {
				keys = append(keys, m[3])
			}
		}
		return keys
	}
	tags := func(v any) map[string]bool {
		out := map[string]bool{}
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			out[name] = true
		}
		return out
	}
	check := func(keys []string, have map[string]bool, where string) {
		if len(keys) < 5 {
			t.Fatalf("%s: only %d keys parsed from docs/design.md: %v", where, len(keys), keys)
		}
		for _, k := range keys {
			if !have[k] {
				t.Errorf("%s has no field for the library's key %q", where, k)
			}
		}
	}
	check(keysOf(section("## 3. Config")), tags(Config{}), "Config")
	// §6 names the counters in backticks.
	var counters []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(section("## 6. Stats"), -1) {
		if m[1] != "enqueue" && m[1] != "flagwire_stats" { // functions, not counters
			counters = append(counters, m[1])
		}
	}
	check(counters, tags(Stats{}), "Stats")
	// §7 lists the profile keys in a sentence: "Config object `profile`: `space_id`, ...".
	prose := section("## 7. Profile API")
	if i := strings.Index(prose, "Config object `profile`:"); i >= 0 {
		prose = prose[i:]
		if j := strings.Index(prose, "Calls run"); j >= 0 {
			prose = prose[:j]
		}
	}
	var profileKeys []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(prose, -1) {
		if m[1] != "profile" {
			profileKeys = append(profileKeys, m[1])
		}
	}
	check(profileKeys, tags(ProfileConfig{}), "ProfileConfig")
}

// A hand-over the library refuses (a malformed record: a bug, never expected) reaches OnError,
// outside the hand-over lock: an OnError that calls Stats does not deadlock.
func TestHandOverErrorReachesOnError(t *testing.T) {
	var c *Client
	var got []error
	c, err := New(Config{WriteKey: "k", LogLevel: "off", OnError: func(err error) {
		got = append(got, err)
		_, _ = c.Stats() // hands over again
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(time.Second)
	sh := &c.h.decisions.shards[0]
	sh.mu.Lock()
	sh.buf = append(sh.buf, make([]byte, recordHeaderLen)...) // format 0, lengths that do not add up
	sh.mu.Unlock()
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !errors.Is(got[0], ErrInvalidArgument) || st.HandlerErrors != 1 || st.DroppedInvalid != 1 {
		t.Fatalf("errors %v, stats %+v", got, st)
	}
}
