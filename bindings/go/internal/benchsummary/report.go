package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// spec is one measure of the summary JSON: a metric of a flagwire benchmark, optionally
// against the same metric of the analytics-go benchmark of the same run.
type spec struct {
	name, bench, peerBench, metric, unit, better string
	goal, goalKind, headline, note               string
}

const (
	viewed     = "BenchmarkExperimentViewed/"
	parallel   = "BenchmarkExperimentViewedParallel/"
	paced      = "BenchmarkExperimentViewedPaced/"
	decide     = "BenchmarkDecide/"
	profile    = "BenchmarkProfileCached/"
	fw, ag     = "flagwire", "analytics-go"
	lower      = "lower"
	higher     = "higher"
	vsPeer     = "vs_peer"
	atMostPeer = "<= analytics-go"
)

var specs = []spec{
	{name: "Go: caller cost per decision notification", bench: viewed + fw, peerBench: viewed + ag,
		metric: "ns/op", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer, headline: "caller",
		note: "wall time inside the DECISION handler, one goroutine calling back to back ({N} calls per run); " +
			"the peer is a hand-written handler building an analytics-go Track with the same properties"},
	{name: "Go: caller CPU per decision notification", bench: viewed + fw, peerBench: viewed + ag,
		metric: "caller-cpu-ns/op", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer,
		note: "CPU time of the calling thread per call (RUSAGE_THREAD), same runs"},
	{name: "Go: delivered events/s end to end", bench: viewed + fw, peerBench: viewed + ag,
		metric: "delivered-events/s", unit: "events/s", better: higher, goal: "> analytics-go", goalKind: vsPeer,
		headline: "throughput",
		note:     "first call until the local collector holds all {N} events (batch 250, gzip for flagwire)"},
	{name: "Go: parallel caller cost (b.RunParallel)", bench: parallel + fw, peerBench: parallel + ag,
		metric: "ns/op", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer,
		note: "GOMAXPROCS goroutines calling the handler concurrently, as concurrent decide() calls"},
	{name: "Go: parallel delivered events/s", bench: parallel + fw, peerBench: parallel + ag,
		metric: "delivered-events/s", unit: "events/s", better: higher, goal: "> analytics-go", goalKind: vsPeer},
	{name: "Go: paced caller cost, mean (~30,000 decisions/s)", bench: paced + fw, peerBench: paced + ag,
		metric: "ns/op", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer,
		note: "groups of 8 calls then a 200 µs pause, each notification built just before its call, each call timed"},
	{name: "Go: paced caller cost, p50", bench: paced + fw, peerBench: paced + ag,
		metric: "p50-ns", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer},
	{name: "Go: paced caller cost, p99", bench: paced + fw, peerBench: paced + ag,
		metric: "p99-ns", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer},
	{name: "Go: user.Decide with the listener attached", bench: decide + fw, peerBench: decide + ag,
		metric: "ns/op", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer,
		note: "a whole Decide through the real Optimizely Go SDK over 1,000 users (about half are exposures)"},
	{name: "Go: user.Decide with the listener attached, caller CPU", bench: decide + fw, peerBench: decide + ag,
		metric: "caller-cpu-ns/op", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer},
	{name: "Go: user.Decide with no listener (SDK alone, baseline)", bench: decide + "no-listener",
		metric: "ns/op", unit: "ns", better: lower,
		note: "what the SDK costs by itself in the same run; the listener's share is the difference"},
	{name: "Go: heap per decision notification", bench: viewed + fw, peerBench: viewed + ag,
		metric: "B/op", unit: "B", better: lower, goal: atMostPeer, goalKind: vsPeer,
		note: "Go heap bytes allocated per call during the burst, background goroutines included; flagwire builds the event in Rust"},
	{name: "Go: heap allocations per decision notification", bench: viewed + fw, peerBench: viewed + ag,
		metric: "allocs/op", unit: "allocs", better: lower, goal: atMostPeer, goalKind: vsPeer},
	{name: "Go: Profile API cached lookup, ProfileAttributes", bench: profile + "attributes",
		metric: "ns/op", unit: "ns", better: lower, goal: "<= 1000 ns in Rust; Go adds the cgo crossing", goalKind: "absolute",
		note: "answered from the library's cache (3 traits + $opt_bucketing_id), including the cgo call, " +
			"freeing the library's string and decoding into map[string]interface{} (float64 numbers)"},
	{name: "Go: Profile API cached lookup, ProfileUserID", bench: profile + "user-id",
		metric: "ns/op", unit: "ns", better: lower, goal: "<= 1000 ns in Rust; Go adds the cgo crossing", goalKind: "absolute"},
}

// The delivery benchmark at internet latency (BenchmarkDeliveryAtLatency/<ms>ms/<sink>).
func init() {
	for _, ms := range []string{"0", "20", "50", "200"} {
		bench := "BenchmarkDeliveryAtLatency/" + ms + "ms/"
		specs = append(specs,
			spec{name: "Go: delivered events/s at " + ms + " ms per request", bench: bench + fw, peerBench: bench + ag,
				metric: "delivered-events/s", unit: "events/s", better: higher, goal: "> analytics-go", goalKind: vsPeer,
				note: "first call until the collector, answering each request after " + ms + " ms (+10% jitter), " +
					"holds all {N} events; flagwire with its default concurrency, analytics-go with its own"},
			spec{name: "Go: caller cost at " + ms + " ms per request", bench: bench + fw, peerBench: bench + ag,
				metric: "ns/op", unit: "ns", better: lower, goal: atMostPeer, goalKind: vsPeer,
				note: "wall time inside the handler during the same burst of {N} calls"})
	}
}

type stat struct {
	Name    string    `json:"name,omitempty"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Samples int       `json:"samples"`
	Values  []float64 `json:"values,omitempty"`
}

type measure struct {
	Name     string `json:"name"`
	Unit     string `json:"unit"`
	Better   string `json:"better"`
	Goal     string `json:"goal,omitempty"`
	GoalKind string `json:"goal_kind,omitempty"`
	Headline string `json:"headline,omitempty"`
	Flagwire stat   `json:"flagwire"`
	Peer     *stat  `json:"peer"`
	Note     string `json:"note,omitempty"`
}

func summarize(v []float64) stat {
	s := stat{Median: median(v), Min: v[0], Max: v[0], Samples: len(v), Values: v}
	for _, x := range v {
		if x < s.Min {
			s.Min = x
		}
		if x > s.Max {
			s.Max = x
		}
	}
	return s
}

// writeSummary writes the measures whose benchmarks ran (a BENCH filter may have left some out).
// {N} in a note becomes the benchmark's iteration count per run.
func writeSummary(path string, values map[string]map[string][]float64, iterations map[string]int,
	versions map[string]string, command string) error {
	var out []measure
	for _, sp := range specs {
		v := values[sp.bench][sp.metric]
		if len(v) == 0 {
			continue
		}
		m := measure{Name: sp.name, Unit: sp.unit, Better: sp.better, Goal: sp.goal, GoalKind: sp.goalKind,
			Headline: sp.headline, Flagwire: summarize(v),
			Note: strings.ReplaceAll(sp.note, "{N}", groupDigits(iterations[sp.bench]))}
		if sp.peerBench != "" {
			pv := values[sp.peerBench][sp.metric]
			if len(pv) == 0 {
				continue // a vs-peer measure without its peer is not comparable
			}
			p := summarize(pv)
			p.Name = "analytics-go"
			m.Peer = &p
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return fmt.Errorf("no known benchmark in the input; nothing to write to %s", path)
	}
	doc := struct {
		Language string            `json:"language"`
		Versions map[string]string `json:"versions"`
		Commands []string          `json:"commands"`
		Measures []measure         `json:"measures"`
	}{"go", versions, []string{command}, out}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
