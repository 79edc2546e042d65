package flagwire_test

// A real Segment-compatible collector (target/release/flagwire-collector) on 127.0.0.1, one per
// test process, and helpers for its /_test control routes. Tests don't run in parallel: each
// resets the collector first.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/optimizely/go-sdk/v2/pkg/logging"
)

var (
	repoRoot     string
	collectorURL string
	httpc        = &http.Client{Timeout: 30 * time.Second}
)

const writeKey = "go-test-write-key"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	logging.SetLogLevel(logging.LogLevelError) // keep the SDK quiet
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", "..", ".."))
	bin := filepath.Join(repoRoot, "target", "release", "flagwire-collector")
	if v := os.Getenv("FLAGWIRE_COLLECTOR"); v != "" {
		bin = v
	}
	cmd := exec.Command(bin, "--port", "0", "--quiet")
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start the test collector %s: %v (build it: cargo build --release -p flagwire-collector)\n", bin, err)
		return 1
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		first <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r) // keep draining so the collector never blocks
	}()
	select {
	case collectorURL = <-first:
	case <-time.After(20 * time.Second):
		fmt.Fprintln(os.Stderr, "the test collector printed no URL within 20 s")
		return 1
	}
	if !strings.HasPrefix(collectorURL, "http://127.0.0.1:") {
		fmt.Fprintf(os.Stderr, "unexpected collector URL line %q\n", collectorURL)
		return 1
	}
	return m.Run()
}

func ctl(t testing.TB, method, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, collectorURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("collector %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("collector %s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("collector %s %s: %v in %s", method, path, err, data)
		}
	}
}

func resetCollector(t testing.TB) { ctl(t, "POST", "/_test/reset", nil, nil) }

type message = map[string]any

func collectorMessages(t testing.TB) []message {
	var out struct {
		Messages []message `json:"messages"`
	}
	ctl(t, "GET", "/_test/messages", nil, &out)
	return out.Messages
}

type request struct {
	Path            string   `json:"path"`
	Status          int      `json:"status"`
	ContentEncoding string   `json:"content_encoding"`
	AuthorizationOK bool     `json:"authorization_ok"`
	MessageIDs      []string `json:"message_ids"`
}

func collectorRequests(t testing.TB) []request {
	var out struct {
		Requests []request `json:"requests"`
	}
	ctl(t, "GET", "/_test/requests", nil, &out)
	return out.Requests
}

// waitCollector waits (bounded) until the collector holds at least n messages; returns the count.
func waitCollector(t testing.TB, n int, timeout time.Duration) int {
	var out struct {
		OK    bool `json:"ok"`
		Count int  `json:"count"`
	}
	ctl(t, "GET", fmt.Sprintf("/_test/wait?count=%d&timeout_ms=%d", n, timeout.Milliseconds()), nil, &out)
	return out.Count
}

func scriptCollector(t testing.TB, steps ...map[string]any) {
	ctl(t, "POST", "/_test/script", map[string]any{"steps": steps}, nil)
}

// setLatency makes the collector answer each Segment request after latencyMS plus up to
// jitterMS (uniform), as Segment seen over the internet; 0, 0 turns it off. Reset keeps it.
func setLatency(t testing.TB, latencyMS, jitterMS int) {
	ctl(t, "POST", "/_test/latency", map[string]any{"latency_ms": latencyMS, "jitter_ms": jitterMS}, nil)
}
