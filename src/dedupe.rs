//! The opt-in exposure dedupe window (docs/design.md §4.4): within `window_ms`, only the first
//! exposure per (user, flag) with a given (rule, variation) is sent; a different rule or
//! variation (re-bucketing, a new rule) is a new exposure and is always sent, and flipping back
//! is sent again (the table keeps the latest assignment, as Eppo and GrowthBook do).
//!
//! Memory is bounded by `max_entries`: 64 shards, each a map from a 128-bit fingerprint of
//! (user, flag) to the assignment's 64-bit fingerprint and when it was sent, with insertion-order
//! eviction (never clear-all: PostHog's lesson). At the bound the oldest entry goes, and that
//! user's next exposure is sent again: an extra event, never a lost first one. A lost first
//! exposure would need two (user, flag) pairs to share a 128-bit fingerprint *and* the same
//! assignment fingerprint, which is not a practical risk (about n² / 2^129 for n entries).

use std::collections::VecDeque;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// Up to 64 shards (fewer for tiny tables), so `max_entries` is a hard bound.
const SHARDS: usize = 64;

/// Keys are already uniform fingerprints: hashing them again would only cost time.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

type Map = std::collections::HashMap<u128, Entry, BuildHasherDefault<Identity>>;

#[derive(Clone, Copy)]
struct Entry {
    assignment: u64,
    /// When the assignment was last sent: Unix seconds of its decision.
    sent_s: u32,
}

#[derive(Default)]
struct Shard {
    map: Map,
    /// Keys in insertion order, for eviction at the bound.
    order: VecDeque<u128>,
}

pub struct DedupeTable {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    window_s: u32,
}

/// What the caller should do with an exposure.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// Send it; `Undo` restores the table if it cannot be queued after all.
    New(Undo),
    /// Already sent within the window with the same rule and variation.
    Repeat,
}

/// Enough to take back a `New` whose event was never queued (queue full, too large), so a lost
/// event never suppresses the next exposure.
#[derive(Debug, PartialEq, Eq)]
pub struct Undo {
    key: u128,
    previous: Option<(u64, u32)>,
}

/// The fingerprint of (user, flag): strings are length-prefixed so "ab"+"c" ≠ "a"+"bc".
fn key(user_id: &str, flag_key: &str) -> u128 {
    let mut buf = [0u8; 256];
    let need = 8 + user_id.len() + flag_key.len();
    if need <= buf.len() {
        buf[..4].copy_from_slice(&(user_id.len() as u32).to_le_bytes());
        buf[4..4 + user_id.len()].copy_from_slice(user_id.as_bytes());
        let at = 4 + user_id.len();
        buf[at..at + 4].copy_from_slice(&(flag_key.len() as u32).to_le_bytes());
        buf[at + 4..need].copy_from_slice(flag_key.as_bytes());
        xxh3_128(&buf[..need])
    } else {
        let mut v = Vec::with_capacity(need);
        v.extend_from_slice(&(user_id.len() as u32).to_le_bytes());
        v.extend_from_slice(user_id.as_bytes());
        v.extend_from_slice(&(flag_key.len() as u32).to_le_bytes());
        v.extend_from_slice(flag_key.as_bytes());
        xxh3_128(&v)
    }
}

fn assignment(rule_key: &str, variation_key: &str) -> u64 {
    let mut buf = [0u8; 128];
    let need = 4 + rule_key.len() + variation_key.len();
    if need <= buf.len() {
        buf[..4].copy_from_slice(&(rule_key.len() as u32).to_le_bytes());
        buf[4..4 + rule_key.len()].copy_from_slice(rule_key.as_bytes());
        buf[4 + rule_key.len()..need].copy_from_slice(variation_key.as_bytes());
        xxh3_64(&buf[..need])
    } else {
        xxh3_64(format!("{}\u{0}{rule_key}{variation_key}", rule_key.len()).as_bytes())
    }
}

impl DedupeTable {
    /// Holds at most `max_entries` (≥ 1) pairs; `window_ms` is rounded to whole seconds (≥ 1 s).
    pub fn new(window_ms: u64, max_entries: usize) -> DedupeTable {
        let shards = max_entries.clamp(1, SHARDS);
        DedupeTable {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: (max_entries / shards).max(1),
            window_s: (window_ms / 1000).clamp(1, u64::from(u32::MAX)) as u32,
        }
    }

    fn shard(&self, key: u128) -> &Mutex<Shard> {
        &self.shards[(key >> 64) as usize % self.shards.len()]
    }

    /// Records the exposure decided at `at_s` (Unix seconds; the caller has read the clock for the
    /// event already); `Repeat` when the same assignment was sent within the window.
    pub fn check(&self, user_id: &str, flag_key: &str, rule_key: &str, variation_key: &str, at_s: u32) -> Seen {
        let key = key(user_id, flag_key);
        let assignment = assignment(rule_key, variation_key);
        let now = at_s;
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = shard.map.get_mut(&key) {
            if e.assignment == assignment && now.saturating_sub(e.sent_s) < self.window_s {
                return Seen::Repeat;
            }
            let previous = Some((e.assignment, e.sent_s));
            *e = Entry { assignment, sent_s: now };
            return Seen::New(Undo { key, previous });
        }
        if shard.map.len() >= self.per_shard {
            // Insertion order; a key already removed by an undo is skipped.
            while let Some(old) = shard.order.pop_front() {
                if shard.map.remove(&old).is_some() {
                    break;
                }
            }
        }
        shard.map.insert(key, Entry { assignment, sent_s: now });
        shard.order.push_back(key);
        Seen::New(Undo { key, previous: None })
    }

    /// Takes back a `New` whose event was not queued.
    pub fn undo(&self, undo: Undo) {
        let mut shard = self.shard(undo.key).lock().unwrap_or_else(|p| p.into_inner());
        match undo.previous {
            Some((assignment, sent_s)) => {
                if let Some(e) = shard.map.get_mut(&undo.key) {
                    *e = Entry { assignment, sent_s };
                }
            }
            None => {
                shard.map.remove(&undo.key);
            }
        }
    }

    /// Entries held (for stats and the memory test).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u32 = 1_800_000_000;

    fn new(t: &Seen) -> bool {
        matches!(t, Seen::New(_))
    }

    #[test]
    fn first_exposure_then_repeats_then_rebucketing() {
        let t = DedupeTable::new(60_000, 1000);
        assert!(new(&t.check("u1", "f", "r", "a", T)));
        assert_eq!(t.check("u1", "f", "r", "a", T), Seen::Repeat);
        // Another user, flag, rule or variation is a new exposure.
        assert!(new(&t.check("u2", "f", "r", "a", T)));
        assert!(new(&t.check("u1", "g", "r", "a", T)));
        assert!(new(&t.check("u1", "f", "r", "b", T)));
        // Flipping back is sent again: the table keeps the latest assignment.
        assert!(new(&t.check("u1", "f", "r", "a", T)));
        assert!(new(&t.check("u1", "f", "r2", "a", T)));
        // Length-prefixed: "ab"+"c" is not "a"+"bc".
        assert!(new(&t.check("ab", "c", "r", "a", T)));
        assert!(new(&t.check("a", "bc", "r", "a", T)));
    }

    #[test]
    fn the_bound_evicts_oldest_first_and_never_loses_a_first_exposure() {
        for bound in [1, 7, 100, SHARDS * 4] {
            let t = DedupeTable::new(60_000, bound);
            for i in 0..2_000 {
                assert!(new(&t.check(&format!("user-{i}"), "f", "r", "v", T)), "first exposure of user-{i}");
            }
            assert!(t.len() <= bound, "{} entries for a bound of {bound}", t.len());
        }
        let t = DedupeTable::new(60_000, SHARDS * 4);
        for i in 0..10_000 {
            assert!(new(&t.check(&format!("user-{i}"), "f", "r", "v", T)));
        }
        // Old users were evicted: their next exposure is sent again (an extra event, by design).
        assert!(new(&t.check("user-0", "f", "r", "v", T)));
    }

    #[test]
    fn undo_restores_what_was_there() {
        let t = DedupeTable::new(60_000, 100);
        let Seen::New(undo) = t.check("u", "f", "r", "a", T) else { panic!() };
        t.undo(undo);
        assert!(new(&t.check("u", "f", "r", "a", T)), "the undone exposure is first again");
        let Seen::New(undo) = t.check("u", "f", "r", "b", T) else { panic!() };
        t.undo(undo);
        assert_eq!(t.check("u", "f", "r", "a", T), Seen::Repeat, "back to the assignment that was sent");
    }

    #[test]
    fn the_window_ends() {
        let t = DedupeTable::new(60_000, 100);
        assert!(new(&t.check("u", "f", "r", "a", T)));
        assert_eq!(t.check("u", "f", "r", "a", T + 59), Seen::Repeat);
        assert!(new(&t.check("u", "f", "r", "a", T + 60)), "a new window");
        assert_eq!(t.check("u", "f", "r", "a", T + 61), Seen::Repeat, "from its own start");
    }
}
