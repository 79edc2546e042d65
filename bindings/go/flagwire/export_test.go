package flagwire

import "time"

// SetHandoverDelay makes clients created afterwards hold buffered decisions for d before the
// hand-over goroutine passes them on (Flush, Stats and Close still hand over at once). It
// returns a func that restores the default. Tests only; not safe while New runs elsewhere.
func SetHandoverDelay(d time.Duration) (restore func()) {
	old := handoverDelay
	handoverDelay = d
	return func() { handoverDelay = old }
}

// BufferedBytes is how many bytes of decision records c holds, not yet handed over, and the
// most it holds before callers hand over themselves.
func BufferedBytes(c *Client) (held, limit int) {
	b := c.h.decisions
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		held += len(sh.buf)
		sh.mu.Unlock()
	}
	return held, len(b.shards) * maxShardBytes
}
