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
    /// Seconds since the table was made, when the assignment was last sent.
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
    started: std::time::Instant,
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
    /// `max_entries` ≥ 1; `window_ms` ≥ 1.
    pub fn new(window_ms: u64, max_entries: usize) -> DedupeTable {
        DedupeTable {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_entries.div_ceil(SHARDS).max(1),
            window_s: (window_ms / 1000).clamp(1, u64::from(u32::MAX)) as u32,
            started: std::time::Instant::now(),
        }
    }

    fn now_s(&self) -> u32 {
        self.started.elapsed().as_secs().min(u64::from(u32::MAX)) as u32
    }

    fn shard(&self, key: u128) -> &Mutex<Shard> {
        &self.shards[(key >> 64) as usize % SHARDS]
    }

    /// Records the exposure; `Repeat` when the same assignment was sent within the window.
    pub fn check(&self, user_id: &str, flag_key: &str, rule_key: &str, variation_key: &str) -> Seen {
        let key = key(user_id, flag_key);
        let assignment = assignment(rule_key, variation_key);
        let now = self.now_s();
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

    fn new(t: &Seen) -> bool {
        matches!(t, Seen::New(_))
    }

    #[test]
    fn first_exposure_then_repeats_then_rebucketing() {
        let t = DedupeTable::new(60_000, 1000);
        assert!(new(&t.check("u1", "f", "r", "a")));
        assert_eq!(t.check("u1", "f", "r", "a"), Seen::Repeat);
        // Another user, flag, rule or variation is a new exposure.
        assert!(new(&t.check("u2", "f", "r", "a")));
        assert!(new(&t.check("u1", "g", "r", "a")));
        assert!(new(&t.check("u1", "f", "r", "b")));
        // Flipping back is sent again: the table keeps the latest assignment.
        assert!(new(&t.check("u1", "f", "r", "a")));
        assert!(new(&t.check("u1", "f", "r2", "a")));
        // Length-prefixed: "ab"+"c" is not "a"+"bc".
        assert!(new(&t.check("ab", "c", "r", "a")));
        assert!(new(&t.check("a", "bc", "r", "a")));
    }

    #[test]
    fn the_bound_evicts_oldest_first_and_never_loses_a_first_exposure() {
        let t = DedupeTable::new(60_000, SHARDS * 4);
        for i in 0..10_000 {
            assert!(new(&t.check(&format!("user-{i}"), "f", "r", "v")), "first exposure of user-{i}");
        }
        assert!(t.len() <= SHARDS * 4, "{}", t.len());
        // Old users were evicted: their next exposure is sent again (an extra event, by design).
        assert!(new(&t.check("user-0", "f", "r", "v")));
    }

    #[test]
    fn undo_restores_what_was_there() {
        let t = DedupeTable::new(60_000, 100);
        let Seen::New(undo) = t.check("u", "f", "r", "a") else { panic!() };
        t.undo(undo);
        assert!(new(&t.check("u", "f", "r", "a")), "the undone exposure is first again");
        let Seen::New(undo) = t.check("u", "f", "r", "b") else { panic!() };
        t.undo(undo);
        assert_eq!(t.check("u", "f", "r", "a"), Seen::Repeat, "back to the assignment that was sent");
    }

    #[test]
    fn the_window_ends() {
        let t = DedupeTable::new(1000, 100);
        assert!(new(&t.check("u", "f", "r", "a")));
        assert_eq!(t.check("u", "f", "r", "a"), Seen::Repeat);
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(new(&t.check("u", "f", "r", "a")), "a new window");
    }
}
