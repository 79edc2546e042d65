//! When a request may start: the request budget (`max_requests_per_second`) and the shared pause
//! a 429 or `Retry-After` imposes on every worker (Segment throttles per workspace, not per
//! connection, so one worker's 429 is everyone's).

use std::sync::Mutex;
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A token bucket of one token (GCRA): requests start at least `1 / rate` apart, so no second
/// holds more than `rate` + 1 of them. Under pressure the dispatcher waits for the next token
/// while its batch keeps growing: fewer, fuller requests instead of more of them.
pub struct Budget {
    spacing: Duration,
    /// Theoretical arrival time of the next request.
    next: Mutex<Option<Instant>>,
}

impl Budget {
    pub fn new(requests_per_second: u32) -> Budget {
        Budget { spacing: Duration::from_secs(1) / requests_per_second.max(1), next: Mutex::new(None) }
    }

    /// Whether a token is there at `now` (not taking it), or when the next one is due: the
    /// dispatcher hands a batch over only then, and keeps it growing otherwise.
    pub fn peek(&self, now: Instant) -> Result<(), Instant> {
        match *lock(&self.next) {
            Some(at) if now < at => Err(at),
            _ => Ok(()),
        }
    }

    /// Takes the token at `now`, or says when the next one is due.
    pub fn try_take(&self, now: Instant) -> Result<(), Instant> {
        let mut next = lock(&self.next);
        match *next {
            Some(at) if now < at => Err(at),
            _ => {
                *next = Some(now + self.spacing);
                Ok(())
            }
        }
    }
}

/// "No request before T", shared by every worker and the dispatcher.
#[derive(Default)]
pub struct Pause {
    /// (since, until)
    window: Mutex<Option<(Instant, Instant)>>,
}

impl Pause {
    /// Extends the pause to `until` (never shortens it).
    pub fn extend(&self, until: Instant) {
        let mut w = lock(&self.window);
        let now = Instant::now();
        *w = Some(match *w {
            Some((since, current)) if current > now => (since, current.max(until)),
            _ => (now, until),
        });
    }

    /// The end of the pause, when one is in force at `now`.
    pub fn until(&self, now: Instant) -> Option<Instant> {
        lock(&self.window).map(|(_, until)| until).filter(|&u| u > now)
    }

    /// A request that started at `started` was accepted: if it was sent during the pause (a
    /// flush's early attempt), the server takes requests again and the pause is over. A request
    /// sent before the pause began says nothing about the throttle.
    pub fn accepted(&self, started: Instant) {
        let mut w = lock(&self.window);
        if matches!(*w, Some((since, _)) if started >= since) {
            *w = None;
        }
    }
}

/// When a flush's deadline is near, retry early enough that one attempt can finish before it:
/// halfway between now and the deadline, so the attempt has as long to run as was waited.
pub fn cut_for_deadline(deadline: Instant, now: Instant) -> Instant {
    now + deadline.saturating_duration_since(now) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_spaces_requests() {
        let b = Budget::new(100);
        let t0 = Instant::now();
        assert!(b.try_take(t0).is_ok());
        assert_eq!(b.try_take(t0), Err(t0 + Duration::from_millis(10)));
        assert!(b.try_take(t0 + Duration::from_millis(10)).is_ok());
        // An idle period does not bank tokens for a burst.
        let later = t0 + Duration::from_secs(5);
        assert!(b.try_take(later).is_ok());
        assert!(b.try_take(later).is_err());
    }

    #[test]
    fn pause_only_grows() {
        let p = Pause::default();
        let t0 = Instant::now();
        assert_eq!(p.until(t0), None);
        p.extend(t0 + Duration::from_secs(2));
        p.extend(t0 + Duration::from_secs(1));
        assert_eq!(p.until(t0), Some(t0 + Duration::from_secs(2)));
        assert_eq!(p.until(t0 + Duration::from_secs(3)), None);
        // Success of a request sent before the pause does not lift it; one sent during it does.
        p.accepted(t0 - Duration::from_secs(1));
        assert!(p.until(t0).is_some());
        p.accepted(Instant::now());
        assert_eq!(p.until(t0), None);
    }
}
