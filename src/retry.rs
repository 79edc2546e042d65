//! Retry policy (docs/design.md §5, Segment's 2026 rule from analytics-java 3.5.5 / analytics-node 3.1):
//! what to retry, how long to wait. Pure functions, so they are tested without a network.

use std::time::{Duration, SystemTime};

use crate::transport::AttemptOutcome;

/// Longest wait a server may ask for with `Retry-After`.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Retry after the given wait, if the budget allows. `server_wait` is true when the wait came
    /// from `Retry-After`.
    Retry { server_wait: Option<Duration> },
    /// Never retry (other 4xx, 501, 505, 511).
    GiveUp,
}

pub fn is_retryable_status(code: u16) -> bool {
    match code {
        408 | 410 | 429 | 460 => true,
        501 | 505 | 511 => false,
        500..=599 => true,
        _ => false,
    }
}

pub fn judge(outcome: &AttemptOutcome, now: SystemTime) -> Verdict {
    match outcome {
        AttemptOutcome::Delivered => Verdict::Delivered,
        AttemptOutcome::Transport { .. } => Verdict::Retry { server_wait: None },
        AttemptOutcome::BadRedirect { .. } => Verdict::GiveUp,
        AttemptOutcome::Status { code, retry_after } => {
            if is_retryable_status(*code) {
                Verdict::Retry { server_wait: retry_after.as_deref().and_then(|v| parse_retry_after(v, now)) }
            } else {
                Verdict::GiveUp
            }
        }
    }
}

/// `Retry-After` as delta-seconds or an HTTP date, capped at 300 s. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return None;
        }
        Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64()))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Exponential backoff with full jitter: uniform in [0, min(max, base * 2^attempt)].
/// `attempt` counts from 0 for the wait before the first retry.
pub fn backoff(base: Duration, max: Duration, attempt: u32, unit_random: f64) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX));
    let ceiling = exp.min(max);
    ceiling.mul_f64(unit_random.clamp(0.0, 1.0))
}

pub use crate::ids::unit_random;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        for c in [408, 410, 429, 460, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(c), "{c}");
        }
        for c in [400, 401, 403, 404, 413, 422, 501, 505, 511, 200, 302] {
            assert!(!is_retryable_status(c), "{c}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("100000", now), Some(MAX_RETRY_AFTER));
        let in_ten = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(parse_retry_after(&in_ten, now), Some(Duration::from_secs(10)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(10));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(10);
        assert_eq!(backoff(base, max, 0, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(base, max, 3, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(base, max, 30, 1.0), max);
        assert_eq!(backoff(base, max, 3, 0.0), Duration::ZERO);
        let r = unit_random();
        assert!((0.0..1.0).contains(&r));
    }
}
