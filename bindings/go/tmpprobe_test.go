package flagwire_test

import (
	"sort"
	"testing"
	"time"
)

func BenchmarkProbeSpin(b *testing.B) {
	resetCollector(b)
	snk := newFlagwireSink(b)
	defer snk.close()
	notes := benchNotifications()
	lat := make([]time.Duration, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		snk.handle(notes[i&ringMask])
		lat[i] = time.Since(t0)
		for t := time.Now(); time.Since(t) < 20*time.Microsecond; {
		}
	}
	snk.drain(b)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.Logf("N=%d p50 %v p90 %v p99 %v", b.N, lat[b.N/2], lat[b.N*9/10], lat[b.N*99/100])
}
