//! What callers put in the queue, and the bound on what is held (docs/design.md §5).
//!
//! The queue itself is an unbounded crossbeam channel (it allocates as it fills, never up front);
//! the bound is `Occupancy`: events and bytes accepted and not yet delivered or failed — waiting,
//! in the batch being formed, or in flight — packed into one atomic so the hot path pays a single
//! read-modify-write for both.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::config::Config;
use crate::event::PackedExposure;

/// One message in the queue, with its exact serialized size (known at the call) and when it
/// arrived (the decision time for exposures), which bounds how long it may wait.
pub struct Queued {
    payload: Payload,
    size: usize,
    at_ms: i64,
}

enum Payload {
    /// Already serialized (`flagwire_enqueue_json`).
    Json(Vec<u8>),
    /// Serialized by a sender worker, off the caller's thread.
    Exposure(PackedExposure),
}

impl Queued {
    pub fn json(bytes: Vec<u8>, at: SystemTime) -> Queued {
        let at_ms = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        Queued { size: bytes.len(), payload: Payload::Json(bytes), at_ms }
    }

    pub fn exposure(packed: PackedExposure, config: &Config) -> Queued {
        Queued { size: packed.serialized_len(config), at_ms: packed.at_ms(), payload: Payload::Exposure(packed) }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn at_ms(&self) -> i64 {
        self.at_ms
    }

    /// Serializes the message (an exposure gets its messageId here, once).
    pub fn write_to(&self, config: &Config, out: &mut Vec<u8>) {
        match &self.payload {
            Payload::Json(bytes) => out.extend_from_slice(bytes),
            Payload::Exposure(packed) => packed.write_to(config, out),
        }
    }

    /// The exposure's allocation, for reuse by the next caller.
    pub fn into_buffer(self) -> Option<Vec<u8>> {
        match self.payload {
            Payload::Exposure(packed) => Some(packed.into_buffer()),
            Payload::Json(_) => None,
        }
    }
}

const BYTES_BITS: u32 = 36;
const BYTES_MASK: u64 = (1 << BYTES_BITS) - 1;

/// Largest `max_queue_events` / `max_queue_bytes` the packed counter can hold with room for
/// concurrent overshoot (config.rs keeps the ranges below these).
pub(crate) const MAX_EVENTS_BOUND: u64 = (1 << (64 - BYTES_BITS)) / 2;
pub(crate) const MAX_BYTES_BOUND: u64 = BYTES_MASK / 2;

/// Events and bytes held (accepted, not yet resolved): `events << 36 | bytes`.
pub struct Occupancy {
    state: AtomicU64,
    max_events: u64,
    max_bytes: u64,
}

impl Occupancy {
    pub fn new(max_events: usize, max_bytes: usize) -> Occupancy {
        Occupancy {
            state: AtomicU64::new(0),
            max_events: (max_events as u64).min(MAX_EVENTS_BOUND),
            max_bytes: (max_bytes as u64).min(MAX_BYTES_BOUND),
        }
    }

    /// Reserves room for one message; false (nothing reserved) when either bound would be passed.
    pub fn try_add(&self, size: usize) -> bool {
        let add = (1 << BYTES_BITS) | size as u64;
        let before = self.state.fetch_add(add, Ordering::Relaxed);
        let events = (before >> BYTES_BITS) + 1;
        let bytes = (before & BYTES_MASK) + size as u64;
        if events > self.max_events || bytes > self.max_bytes {
            self.state.fetch_sub(add, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Gives back the room of `events` messages totalling `bytes` (delivered, failed or refused).
    pub fn release(&self, events: u64, bytes: u64) {
        self.state.fetch_sub((events << BYTES_BITS) | bytes, Ordering::Relaxed);
    }

    /// Above half of either bound: with a spool, the batch being formed goes to disk rather
    /// than wait in memory (docs/design.md §5.1), so QUEUE_FULL comes only when the disk cannot
    /// keep up.
    pub fn above_half(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        (state >> BYTES_BITS) * 2 > self.max_events || (state & BYTES_MASK) * 2 > self.max_bytes
    }

    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.state.load(Ordering::Relaxed) & BYTES_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configurable_bounds_fit_the_packed_counter() {
        for k in crate::config::NUMERIC_KEYS {
            match k.key {
                "max_queue_events" => assert!(k.max <= MAX_EVENTS_BOUND, "{}", k.max),
                "max_queue_bytes" => assert!(k.max <= MAX_BYTES_BOUND, "{}", k.max),
                _ => {}
            }
        }
    }

    #[test]
    fn both_bounds_hold_and_release_restores() {
        let o = Occupancy::new(3, 100);
        assert!(o.try_add(40));
        assert!(o.try_add(40));
        assert!(!o.try_add(40), "bytes bound");
        assert!(o.try_add(20));
        assert!(!o.try_add(0), "events bound");
        o.release(2, 80);
        assert_eq!(o.bytes(), 20);
        assert!(o.try_add(80));
    }
}
