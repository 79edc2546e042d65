//! Which messages are resolved (delivered or failed), for `flush`. Messages get sequence numbers
//! in queue order as the dispatcher takes them; batches resolve out of order once several are in
//! flight, so a flush waits for the low watermark — the first unresolved sequence number — to
//! pass the messages that were queued before it, not for a count.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

#[derive(Default)]
struct State {
    /// Everything below this has been handed to a worker.
    dispatched_upto: u64,
    /// Batches handed to workers and not yet resolved: first sequence number -> end.
    in_flight: BTreeMap<u64, u64>,
}

impl State {
    fn watermark(&self) -> u64 {
        self.in_flight.keys().next().copied().unwrap_or(self.dispatched_upto)
    }
}

#[derive(Default)]
pub struct Progress {
    state: Mutex<State>,
    changed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Progress {
    /// Messages `first..end` went to a worker.
    pub fn dispatched(&self, first: u64, end: u64) {
        let mut s = lock(&self.state);
        s.in_flight.insert(first, end);
        s.dispatched_upto = end;
    }

    /// The batch starting at `first` is resolved.
    pub fn resolved(&self, first: u64) {
        lock(&self.state).in_flight.remove(&first);
        self.changed.notify_all();
    }

    /// Batches held by workers.
    pub fn in_flight(&self) -> usize {
        lock(&self.state).in_flight.len()
    }

    /// Waits until every message below `target` is resolved; false at the deadline.
    pub fn wait_resolved(&self, target: u64, deadline: Instant) -> bool {
        let mut s = lock(&self.state);
        while s.watermark() < target {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = match self.changed.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    /// Waits until no batch is held by a worker; false at the deadline.
    pub fn wait_idle(&self, deadline: Instant) -> bool {
        let d = lock(&self.state).dispatched_upto;
        self.wait_resolved(d, deadline)
    }

    pub fn resolved_below(&self, target: u64) -> bool {
        lock(&self.state).watermark() >= target
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn watermark_waits_for_the_oldest_batch() {
        let p = Progress::default();
        p.dispatched(0, 10);
        p.dispatched(10, 20);
        p.resolved(10);
        assert!(!p.resolved_below(10), "the first batch is still out");
        assert!(!p.wait_resolved(5, Instant::now() + Duration::from_millis(20)));
        p.resolved(0);
        assert!(p.resolved_below(20));
        assert!(!p.resolved_below(21), "message 20 was never dispatched");
    }
}
