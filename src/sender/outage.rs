//! With a spool (docs/design.md §5.1): whether the receiver is failing. A batch whose retries ran
//! out on retryable errors puts the sender in an outage: new batches go to the spool instead of
//! each running its own retries against a receiver that is down, and one probe at a time (the
//! oldest spool file, one attempt) checks whether it is back, with growing waits between probes.
//! Any 2xx ends the outage; the spool then drains oldest first at full speed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::retry::{backoff, unit_random};

#[derive(Default)]
struct State {
    failing: bool,
    /// Probes that failed in a row.
    failures: u32,
    probe_at: Option<Instant>,
    probing: bool,
}

#[derive(Default)]
pub struct Outage {
    state: Mutex<State>,
}

impl Outage {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request was answered with a 2xx (or a definite 4xx): the receiver is up. True when this
    /// ends an outage.
    pub fn answered(&self) -> bool {
        let mut s = self.lock();
        s.failures = 0;
        std::mem::replace(&mut s.failing, false)
    }

    /// A batch's retries (or a probe) ran out on retryable errors. True when this starts an outage.
    pub fn failed(&self, now: Instant, base: Duration, max: Duration) -> bool {
        let mut s = self.lock();
        let started = !s.failing;
        let wait = backoff(base, max, s.failures, 0.5 + unit_random() / 2.0).max(base);
        s.failing = true;
        s.failures = s.failures.saturating_add(1);
        s.probe_at = Some(s.probe_at.map_or(now + wait, |at| at.max(now + wait)));
        started
    }

    pub fn failing(&self) -> bool {
        self.lock().failing
    }

    /// Ok when a probe may start now (none running, its wait over, or `cut` passed: a flush's
    /// early try); else when to look again (None: when the running probe ends).
    pub fn probe_due(&self, now: Instant, cut: Option<Instant>) -> Result<(), Option<Instant>> {
        let s = self.lock();
        if s.probing {
            return Err(None);
        }
        let at = match (s.probe_at, cut) {
            (Some(at), Some(cut)) => at.min(cut),
            (at, cut) => at.or(cut).unwrap_or(now),
        };
        if now >= at { Ok(()) } else { Err(Some(at)) }
    }

    pub fn probe_started(&self) {
        self.lock().probing = true;
    }

    pub fn probe_ended(&self) {
        self.lock().probing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_space_out_probes_and_a_2xx_ends_the_outage() {
        let o = Outage::default();
        let t0 = Instant::now();
        assert!(!o.failing());
        let base = Duration::from_millis(100);
        assert!(o.failed(t0, base, Duration::from_secs(10)), "starts an outage");
        assert!(o.failing());
        let Err(Some(at)) = o.probe_due(t0, None) else { panic!("a probe waits") };
        assert!(at >= t0 + base);
        assert_eq!(o.probe_due(t0, Some(t0)), Ok(()), "a flush's cut lets one go early");
        o.probe_started();
        assert_eq!(o.probe_due(at, None), Err(None), "one probe at a time");
        o.probe_ended();
        assert_eq!(o.probe_due(at, None), Ok(()));
        assert!(o.answered(), "ends it");
        assert!(!o.failing() && !o.answered());
    }
}
