//! The hold buffer (issue 12 item 9): decisions on a rule the datafile does not list wait here for
//! the next datafile, or for the fallback rule once their timeout passes. Bounded by count and
//! bytes; owned copies, since the caller's strings are gone when the call returns.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use crate::decision::{Decision, DecisionType};

/// A decision copied out of the caller's buffers.
#[derive(Debug, Clone)]
pub struct OwnedDecision {
    decision_type: DecisionType,
    user_id: String,
    attributes: Option<String>,
    flag_key: Option<String>,
    rule_key: Option<String>,
    variation_key: Option<String>,
    enabled: Option<bool>,
    experiment_id: Option<String>,
    variation_id: Option<String>,
    decision_event_dispatched: Option<bool>,
    source: Option<String>,
}

impl OwnedDecision {
    pub fn new(d: &Decision<'_>) -> OwnedDecision {
        let own = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().map(str::to_owned);
        OwnedDecision {
            decision_type: d.decision_type,
            user_id: d.user_id.to_string(),
            attributes: d.attributes.map(str::to_owned),
            flag_key: own(&d.flag_key),
            rule_key: own(&d.rule_key),
            variation_key: own(&d.variation_key),
            enabled: d.enabled,
            experiment_id: own(&d.experiment_id),
            variation_id: own(&d.variation_id),
            decision_event_dispatched: d.decision_event_dispatched,
            source: own(&d.source),
        }
    }

    pub fn decision(&self) -> Decision<'_> {
        fn borrow(s: &Option<String>) -> Option<std::borrow::Cow<'_, str>> {
            s.as_deref().map(std::borrow::Cow::Borrowed)
        }
        Decision {
            decision_type: self.decision_type,
            user_id: std::borrow::Cow::Borrowed(&self.user_id),
            attributes: self.attributes.as_deref(),
            flag_key: borrow(&self.flag_key),
            rule_key: borrow(&self.rule_key),
            variation_key: borrow(&self.variation_key),
            enabled: self.enabled,
            experiment_id: borrow(&self.experiment_id),
            variation_id: borrow(&self.variation_id),
            decision_event_dispatched: self.decision_event_dispatched,
            source: borrow(&self.source),
        }
    }

    /// Bytes this copy holds, plus a fixed overhead per entry.
    fn size(&self) -> usize {
        let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        ENTRY_OVERHEAD
            + self.user_id.len()
            + len(&self.attributes)
            + len(&self.flag_key)
            + len(&self.rule_key)
            + len(&self.variation_key)
            + len(&self.experiment_id)
            + len(&self.variation_id)
            + len(&self.source)
    }
}

const ENTRY_OVERHEAD: usize = std::mem::size_of::<Held>();

/// One held decision: the time it was made (the event's `timestamp`) and when the fallback rule
/// resolves it.
#[derive(Debug)]
pub struct Held {
    pub decision: OwnedDecision,
    pub at: SystemTime,
    pub deadline: Instant,
    size: usize,
}

impl Held {
    pub fn new(decision: OwnedDecision, at: SystemTime, deadline: Instant) -> Held {
        let size = decision.size();
        Held { decision, at, deadline, size }
    }
}

pub struct HoldBuffer {
    queue: VecDeque<Held>,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
}

impl HoldBuffer {
    pub fn new(max_events: usize, max_bytes: usize) -> HoldBuffer {
        HoldBuffer { queue: VecDeque::new(), bytes: 0, max_events, max_bytes }
    }

    /// Adds `held` unless that would pass a bound; false then.
    pub fn push(&mut self, held: Held) -> bool {
        if self.queue.len() >= self.max_events || self.bytes + held.size > self.max_bytes {
            return false;
        }
        self.bytes += held.size;
        self.queue.push_back(held);
        true
    }

    /// Removes and returns the decisions whose deadline is at or before `now`, oldest first.
    pub fn take_expired(&mut self, now: Instant) -> Vec<Held> {
        self.take_where(|h| h.deadline <= now)
    }

    /// Removes and returns the decisions `pick` selects, oldest first; the others stay in order.
    pub fn take_where(&mut self, mut pick: impl FnMut(&Held) -> bool) -> Vec<Held> {
        if !self.queue.iter().any(&mut pick) {
            return Vec::new();
        }
        let (taken, kept): (VecDeque<Held>, VecDeque<Held>) = self.queue.drain(..).partition(|h| pick(h));
        self.queue = kept;
        self.bytes = self.queue.iter().map(|h| h.size).sum();
        taken.into()
    }

    /// Removes and returns everything, oldest first.
    pub fn take_all(&mut self) -> Vec<Held> {
        self.bytes = 0;
        self.queue.drain(..).collect()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::parse_notification;
    use std::time::Duration;

    fn held(user: &str, deadline: Instant) -> Held {
        let n = format!(
            r#"{{"type":"flag","userId":"{user}","attributes":{{"a":1}},"decisionInfo":{{"flagKey":"f","ruleKey":"r","variationKey":"v","experimentId":"9","decisionEventDispatched":true}}}}"#
        );
        Held::new(OwnedDecision::new(&parse_notification(&n).unwrap()), SystemTime::now(), deadline)
    }

    #[test]
    fn owned_copy_gives_the_same_decision_back() {
        let n = r#"{"type":"feature","user_id":"u\"1","attributes":{"plan":"pro"},"decision_info":{"feature_key":"f","feature_enabled":true,"source":"rollout","source_info":{"experiment_key":"e","variation_key":"v"}}}"#;
        let d = parse_notification(n).unwrap();
        let owned = OwnedDecision::new(&d);
        let back = owned.decision();
        assert_eq!(format!("{d:?}"), format!("{back:?}"));
    }

    #[test]
    fn bounded_by_count_and_bytes_and_released_by_deadline() {
        let now = Instant::now();
        let mut buf = HoldBuffer::new(3, 1 << 20);
        assert!(buf.push(held("a", now + Duration::from_secs(5))));
        assert!(buf.push(held("b", now)));
        assert!(buf.push(held("c", now + Duration::from_secs(1))));
        assert!(!buf.push(held("d", now)), "over the count bound");
        let users = |v: Vec<Held>| v.into_iter().map(|h| h.decision.user_id).collect::<Vec<_>>();
        assert!(buf.take_expired(now - Duration::from_secs(1)).is_empty());
        assert_eq!(users(buf.take_expired(now + Duration::from_millis(1500))), ["b", "c"]);
        assert_eq!(buf.len(), 1);
        assert_eq!(users(buf.take_all()), ["a"]);
        assert_eq!(buf.len(), 0);

        let one = held("x", now).size;
        let mut small = HoldBuffer::new(100, 2 * one);
        assert!(small.push(held("x", now)) && small.push(held("y", now)));
        assert!(!small.push(held("z", now)), "over the byte bound");
        assert_eq!(small.take_expired(now).len(), 2);
        assert!(small.push(held("z", now)), "bytes are given back when released");
        assert!(!HoldBuffer::new(0, 1 << 20).push(held("n", now)));
    }
}
