//! Counters since init in this process (docs/design.md §6). Relaxed atomics: they are reports, not locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters the callers bump come first, the sender's after a gap, so the sender's updates do not
/// invalidate the cache line every caller writes (false sharing).
#[derive(Default)]
#[repr(C, align(128))]
pub struct Stats {
    pub decisions: AtomicU64,
    pub exposures: AtomicU64,
    pub skipped: AtomicU64,
    pub enqueued: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_invalid: AtomicU64,
    pub dropped_too_large: AtomicU64,
    /// Attribute members dropped because strict receivers refuse them (the exposure is sent).
    pub dropped_attributes: AtomicU64,
    /// Exposures not sent: the same assignment was sent within the dedupe window (issue 15).
    pub deduplicated: AtomicU64,
    // Classification (issues 12, 19): holdout exposures (also in `exposures`), and the decisions
    // held because the datafile did not list their rule, by how each was resolved.
    pub holdout_exposures: AtomicU64,
    pub held: AtomicU64,
    pub released_by_datafile: AtomicU64,
    pub released_by_timeout: AtomicU64,
    pub released_by_flush: AtomicU64,
    pub hold_full: AtomicU64,
    _gap: [u64; 16],
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub retries: AtomicU64,
    pub batches: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// HTTP requests made (every attempt, every part of a split batch).
    pub requests: AtomicU64,
    /// Messages failed alone after their batch was refused (400/413) and split to find them.
    pub isolated: AtomicU64,
}

pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Stats {
    /// `queue_depth`: events accepted and not yet resolved; `in_flight`: batches being sent or
    /// waiting to be retried; `extra`: members computed elsewhere (held decisions, per-variation
    /// exposure counts).
    pub fn to_json(&self, queue_depth: u64, in_flight: usize, extra: serde_json::Map<String, serde_json::Value>) -> String {
        let g = |c: &AtomicU64| c.load(Relaxed);
        let mut json = serde_json::json!({
            "decisions": g(&self.decisions),
            "exposures": g(&self.exposures),
            "skipped": g(&self.skipped),
            "enqueued": g(&self.enqueued),
            "dropped_queue_full": g(&self.dropped_queue_full),
            "dropped_invalid": g(&self.dropped_invalid),
            "dropped_too_large": g(&self.dropped_too_large),
            "dropped_attributes": g(&self.dropped_attributes),
            "deduplicated": g(&self.deduplicated),
            "delivered": g(&self.delivered),
            "failed": g(&self.failed),
            "retries": g(&self.retries),
            "batches": g(&self.batches),
            "bytes_sent": g(&self.bytes_sent),
            "requests": g(&self.requests),
            "isolated": g(&self.isolated),
            "queue_depth": queue_depth,
            "in_flight": in_flight,
            "holdout_exposures": g(&self.holdout_exposures),
            "held": g(&self.held),
            "released_by_datafile": g(&self.released_by_datafile),
            "released_by_timeout": g(&self.released_by_timeout),
            "released_by_flush": g(&self.released_by_flush),
            "hold_full": g(&self.hold_full),
        });
        if let serde_json::Value::Object(map) = &mut json {
            map.extend(extra);
        }
        json.to_string()
    }
}
