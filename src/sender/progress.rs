//! Which messages are resolved (delivered or failed), for `flush`. Messages get sequence numbers
//! in queue order as the dispatcher takes them; batches resolve out of order once several are in
//! flight, so a flush waits for the low watermark — the first unresolved sequence number — to
//! pass the messages that were queued before it, not for a count.
//!
//! With a spool, a batch can also wait on disk (spooled: unresolved, but no longer in flight), and
//! a second watermark says which messages a crash can no longer lose: resolved or written.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

#[derive(Default)]
struct State {
    /// Everything below this has been handed to a worker.
    dispatched_upto: u64,
    /// Batches handed to workers and not yet resolved: first sequence number -> end.
    in_flight: BTreeMap<u64, u64>,
    /// Batches waiting in the spool, not yet resolved.
    spooled: BTreeMap<u64, u64>,
    /// Batches neither resolved nor written to the spool.
    at_risk: BTreeMap<u64, u64>,
}

impl State {
    fn watermark(&self) -> u64 {
        let first = |m: &BTreeMap<u64, u64>| m.keys().next().copied().unwrap_or(u64::MAX);
        first(&self.in_flight).min(first(&self.spooled)).min(self.dispatched_upto)
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
        s.at_risk.insert(first, end);
        s.dispatched_upto = end;
    }

    /// Messages `first..end` went straight from the dispatcher to the spool.
    pub fn spilled(&self, first: u64, end: u64) {
        let mut s = lock(&self.state);
        s.spooled.insert(first, end);
        s.dispatched_upto = end;
    }

    /// The batch starting at `first` is written to the spool (it is still being sent).
    pub fn written(&self, first: u64) {
        lock(&self.state).at_risk.remove(&first);
    }

    /// The batch starting at `first` was not sent now and waits in the spool.
    pub fn spooled(&self, first: u64) {
        let mut s = lock(&self.state);
        if let Some(end) = s.in_flight.remove(&first) {
            s.spooled.insert(first, end);
        }
        s.at_risk.remove(&first);
    }

    /// The batch starting at `first` is resolved.
    pub fn resolved(&self, first: u64) {
        let mut s = lock(&self.state);
        s.in_flight.remove(&first);
        s.spooled.remove(&first);
        s.at_risk.remove(&first);
        drop(s);
        self.changed.notify_all();
    }

    /// Every message below this is resolved or written to the spool: a crash cannot lose it.
    pub fn safe_below(&self) -> u64 {
        let s = lock(&self.state);
        s.at_risk.keys().next().copied().unwrap_or(s.dispatched_upto).min(s.dispatched_upto)
    }

    /// Waits until every message handed out is resolved or written; false at the deadline.
    pub fn wait_safe(&self, deadline: Instant) -> bool {
        loop {
            let s = lock(&self.state);
            if s.at_risk.is_empty() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // `written` does not notify (it is on every batch's path); poll, briefly.
            let _ = self.changed.wait_timeout(s, (deadline - now).min(std::time::Duration::from_millis(5)));
        }
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

    #[test]
    fn spooled_batches_hold_flush_but_are_safe() {
        let p = Progress::default();
        p.dispatched(0, 10);
        p.spilled(10, 20);
        p.dispatched(20, 30);
        assert_eq!(p.safe_below(), 0);
        p.written(0);
        assert_eq!(p.safe_below(), 20, "spilled batches are written");
        p.spooled(20);
        assert_eq!(p.safe_below(), 30);
        assert_eq!(p.in_flight(), 1);
        p.resolved(0);
        assert!(p.resolved_below(10) && !p.resolved_below(11), "flush waits for spooled batches");
        p.resolved(10);
        p.resolved(20);
        assert!(p.resolved_below(30));
        assert!(p.wait_safe(Instant::now()));
    }
}
