package flagwire_test

import (
	"sort"
	"testing"
	"time"
)

func BenchmarkProbePos(b *testing.B) {
	for _, s := range sinks {
		b.Run(s.name, func(b *testing.B) {
			resetCollector(b)
			snk := s.make(b)
			defer snk.close()
			notes := benchNotifications()
			const group = 8
			pos := make([][]time.Duration, group)
			for i := 0; i < b.N; {
				for j := 0; j < group && i < b.N; j++ {
					t0 := time.Now()
					snk.handle(notes[i&ringMask])
					pos[j] = append(pos[j], time.Since(t0))
					i++
				}
				time.Sleep(200 * time.Microsecond)
			}
			snk.drain(b)
			for j := range pos {
				l := pos[j]
				sort.Slice(l, func(a, c int) bool { return l[a] < l[c] })
				if len(l) > 100 {
					b.Logf("pos %d: p50 %v p90 %v", j, l[len(l)/2], l[len(l)*9/10])
				}
			}
		})
	}
}
