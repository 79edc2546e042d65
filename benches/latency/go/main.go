// analytics-go's side of the latency benchmark (benches/latency/README.md): Segment's Go library
// with its defaults, given the same "Experiment Viewed" track flagwire makes.
//
// `latency-go URL SECS RATE`: offers RATE events/s (paced in 1 ms slices; Enqueue blocks when
// its channel is full, so the offers slow down instead) for SECS seconds, prints the offer report
// as one JSON line, then Close (delivers what is held), prints the close report and waits for
// stdin to close (the runner reads the peak RSS meanwhile).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// counter counts messages the library reports as failed (dropped after Enqueue accepted them).
type counter struct{ ok, failed atomic.Int64 }

func (c *counter) Success(analytics.Message)        { c.ok.Add(1) }
func (c *counter) Failure(analytics.Message, error) { c.failed.Add(1) }

func unixMS() int64 { return time.Now().UnixMilli() }

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: latency-go URL [SECS] [RATE]")
		os.Exit(2)
	}
	url := os.Args[1]
	secs, rate := 4.0, 200000.0
	if len(os.Args) > 2 {
		secs, _ = strconv.ParseFloat(os.Args[2], 64)
	}
	if len(os.Args) > 3 {
		rate, _ = strconv.ParseFloat(os.Args[3], 64)
	}
	key := os.Getenv("LATENCY_WRITE_KEY")
	if key == "" {
		key = "latency-bench"
	}
	cb := &counter{}
	// Defaults: only the endpoint, and a callback to count failures.
	client, err := analytics.NewWithConfig(key, analytics.Config{Endpoint: url, Callback: cb})
	if err != nil {
		panic(err)
	}

	var offered, accepted, refused int64
	attrs := map[string]any{"plan": "enterprise", "country": "DE"}
	first := unixMS()
	start := time.Now()
	window := time.Duration(secs * float64(time.Second))
	for {
		elapsed := time.Since(start)
		if elapsed >= window {
			break
		}
		due := int64(elapsed.Seconds() * rate)
		for offered < due {
			user := "user-" + strconv.FormatInt(offered, 10)
			props := analytics.NewProperties().
				Set("flagKey", "checkout_flow").Set("ruleKey", "checkout_ab").Set("variationKey", "treatment").
				Set("enabled", true).Set("optimizelyUserId", user).Set("userAttributes", attrs).
				Set("experiment_id", "20001").Set("experiment_name", "checkout_ab").
				Set("variation_id", "30002").Set("variation_name", "treatment")
			if client.Enqueue(analytics.Track{UserId: user, Event: "Experiment Viewed", Properties: props}) == nil {
				accepted++
			} else {
				refused++
			}
			offered++
			if offered%256 == 0 && time.Since(start) >= window {
				break // a blocking or slow Enqueue must not overrun the window
			}
		}
		time.Sleep(time.Millisecond)
	}
	emit(map[string]any{"phase": "offered", "first_offer_ms": first, "offer_end_ms": unixMS(),
		"offered": offered, "accepted": accepted, "refused": refused})
	_ = client.Close()
	emit(map[string]any{"phase": "closed", "closed_ms": unixMS(), "failed": cb.failed.Load(), "succeeded": cb.ok.Load()})
	// The runner reads this process's peak RSS (VmHWM) now, then closes our stdin.
	_, _ = io.Copy(io.Discard, os.Stdin)
}
