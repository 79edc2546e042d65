//! Exposure counts per (flag, rule, variation) for `flagwire_stats` (issue 18): how exposures split
//! across variations, from the library's own counters, so a service can export them to its metrics
//! and watch for a sample ratio mismatch.
//!
//! Bounded: at most `max_exposure_counters` distinct triples; exposures of further triples are
//! counted together in `overflow`. Cheap on the hot path: the datafile index keeps one `Slot` per
//! (flag, rule, variation) it knows, filled with the triple's counter on first use, so a counted
//! exposure is one atomic load and one atomic add; only triples the datafile cannot place (no
//! datafile, forced variations, held decisions) look the triple up under a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use rustc_hash::FxHashMap as HashMap;
use serde_json::{json, Value};

/// Where the datafile index caches one triple's counter.
pub type Slot = OnceLock<Arc<AtomicU64>>;

type Key = (Box<str>, Box<str>, Box<str>);

pub struct ExposureCounts {
    max: usize,
    counters: Mutex<HashMap<Key, Arc<AtomicU64>>>,
    /// Exposures of triples beyond `max`, and the counter their slots point at.
    overflow: Arc<AtomicU64>,
}

impl ExposureCounts {
    pub fn new(max: usize) -> ExposureCounts {
        ExposureCounts { max, counters: Mutex::new(HashMap::default()), overflow: Arc::new(AtomicU64::new(0)) }
    }

    /// Counts one exposure of (flag, rule, variation); `slot` is the index's cache for the triple.
    pub fn count(&self, slot: Option<&Slot>, flag: &str, rule: &str, variation: &str) {
        if let Some(counter) = slot.and_then(OnceLock::get) {
            counter.fetch_add(1, Relaxed);
            return;
        }
        let counter = self.counter(flag, rule, variation);
        counter.fetch_add(1, Relaxed);
        if let Some(slot) = slot {
            let _ = slot.set(counter);
        }
    }

    #[cold]
    fn counter(&self, flag: &str, rule: &str, variation: &str) -> Arc<AtomicU64> {
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let key: Key = (flag.into(), rule.into(), variation.into());
        if let Some(c) = counters.get(&key) {
            return Arc::clone(c);
        }
        if counters.len() >= self.max {
            return Arc::clone(&self.overflow);
        }
        Arc::clone(counters.entry(key).or_default())
    }

    pub fn overflow(&self) -> u64 {
        self.overflow.load(Relaxed)
    }

    /// `[{"flag_key","rule_key","variation_key","exposures"}]`, sorted by the keys: one sample per
    /// triple, labels and a value, the shape metrics exporters take.
    pub fn to_json(&self) -> Value {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<(&Key, u64)> = counters.iter().map(|(k, c)| (k, c.load(Relaxed))).collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Value::Array(
            rows.into_iter()
                .map(|((f, r, v), n)| json!({"flag_key": &**f, "rule_key": &**r, "variation_key": &**v, "exposures": n}))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_through_slots_and_bounds_the_triples() {
        let counts = ExposureCounts::new(2);
        let slot = Slot::new();
        for _ in 0..3 {
            counts.count(Some(&slot), "f", "r", "a");
        }
        counts.count(None, "f", "r", "a");
        counts.count(None, "f", "r", "b");
        // A third triple is past the bound: counted in overflow, through its slot too.
        let late = Slot::new();
        counts.count(Some(&late), "f", "r", "c");
        counts.count(Some(&late), "f", "r", "c");
        counts.count(None, "g", "r", "a");
        assert_eq!(
            counts.to_json(),
            json!([{"flag_key":"f","rule_key":"r","variation_key":"a","exposures":4},
                   {"flag_key":"f","rule_key":"r","variation_key":"b","exposures":1}])
        );
        assert_eq!(counts.overflow(), 3);
        let none = ExposureCounts::new(0);
        none.count(None, "f", "r", "a");
        assert_eq!((none.to_json(), none.overflow()), (json!([]), 1));
    }
}
