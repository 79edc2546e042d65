//! What the live page at `/` shows: the newest accepted messages, and the exposures counted per
//! rule and variation (unique users and events), set against the datafile's traffic allocation
//! with a sample-ratio-mismatch test.
//!
//! Accepted messages are read here only when the page (or `/_test/live`) asks, each once, so
//! that a collector nobody watches pays nothing. An exposure is a message whose `properties`
//! name a variation (`variationKey` / `variation_name` / `variation_id` / `variationId`) and a
//! rule (`ruleKey` / `experiment_name` / `experiment_id` / `experimentId`), in any of flagwire's
//! property styles. Users are `userId`, else `anonymousId`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::datafile::{Datafile, Rule, RuleKind};
use crate::srm::chi_square;

/// Messages kept for the event list (the newest).
pub(crate) const RECENT_EVENTS: usize = 5000;
/// SRM is flagged below this p-value (Eppo, PostHog, GrowthBook; Statsig's red level).
pub(crate) const ALPHA: f64 = 0.001;
/// Fewer users than this in a rule: "not enough data" (PostHog's gate).
pub(crate) const MIN_USERS: u64 = 100;
/// An expected count below this in any variation: "not enough data" (the chi-square
/// approximation's usual validity condition).
pub(crate) const MIN_EXPECTED: f64 = 5.0;

/// Which unit the SRM test counts, as the page says it.
pub(crate) const COUNTING: &str = "unique users per variation (userId, else anonymousId)";

/// Messages read so far, folded into what the page needs.
#[derive(Default)]
pub(crate) struct Live {
    /// `Data::generation` these figures belong to.
    generation: u64,
    /// How many of `Data::messages` were read.
    consumed: usize,
    recent: VecDeque<EventRow>,
    exposures: u64,
    unreadable: u64,
    arms: HashMap<ArmKey, Arm>,
}

/// One row of the event list.
#[derive(Clone)]
struct EventRow {
    /// 1-based position among the accepted messages.
    seq: usize,
    ty: String,
    event: Option<String>,
    user: Option<String>,
    flag: Option<String>,
    rule: Option<String>,
    variation: Option<String>,
    timestamp: Option<String>,
}

/// An exposure's identity as sent (resolved against the datafile when the summary is built).
#[derive(Clone, Default, Hash, PartialEq, Eq)]
struct ArmKey {
    flag: Option<String>,
    rule_key: Option<String>,
    rule_id: Option<String>,
    variation_key: Option<String>,
    variation_id: Option<String>,
}

#[derive(Default)]
struct Arm {
    events: u64,
    users: HashSet<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    ty: Option<String>,
    event: Option<Value>,
    #[serde(rename = "userId")]
    user_id: Option<Value>,
    #[serde(rename = "anonymousId")]
    anonymous_id: Option<Value>,
    timestamp: Option<Value>,
    properties: Option<Properties>,
}

#[derive(Deserialize, Default)]
struct Properties {
    #[serde(rename = "flagKey")]
    flag_key: Option<Value>,
    #[serde(rename = "ruleKey")]
    rule_key: Option<Value>,
    experiment_name: Option<Value>,
    experiment_id: Option<Value>,
    #[serde(rename = "experimentId")]
    experiment_id_camel: Option<Value>,
    #[serde(rename = "variationKey")]
    variation_key: Option<Value>,
    variation_name: Option<Value>,
    variation_id: Option<Value>,
    #[serde(rename = "variationId")]
    variation_id_camel: Option<Value>,
}

/// A string or number as text; None for null, absent, or anything else.
fn text(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn first(a: &Option<Value>, b: &Option<Value>) -> Option<String> {
    text(a).or_else(|| text(b))
}

impl Live {
    /// Reads `new` (the messages after the ones already read) into the figures.
    pub(crate) fn catch_up(&mut self, new: &[Arc<str>]) {
        for raw in new {
            self.consumed += 1;
            let Ok(m) = serde_json::from_str::<Message>(raw) else {
                self.unreadable += 1;
                continue;
            };
            let p = m.properties.unwrap_or_default();
            let user = first(&m.user_id, &m.anonymous_id);
            let key = ArmKey {
                flag: text(&p.flag_key),
                rule_key: first(&p.rule_key, &p.experiment_name),
                rule_id: first(&p.experiment_id, &p.experiment_id_camel),
                variation_key: first(&p.variation_key, &p.variation_name),
                variation_id: first(&p.variation_id, &p.variation_id_camel),
            };
            let row = EventRow {
                seq: self.consumed,
                ty: m.ty.unwrap_or_default(),
                event: text(&m.event),
                user: user.clone(),
                flag: key.flag.clone(),
                rule: key.rule_key.clone().or_else(|| key.rule_id.clone()),
                variation: key
                    .variation_key
                    .clone()
                    .or_else(|| key.variation_id.clone()),
                timestamp: text(&m.timestamp),
            };
            if self.recent.len() == RECENT_EVENTS {
                self.recent.pop_front();
            }
            self.recent.push_back(row);
            let is_exposure = (key.rule_key.is_some() || key.rule_id.is_some())
                && (key.variation_key.is_some() || key.variation_id.is_some());
            if is_exposure {
                self.exposures += 1;
                let arm = self.arms.entry(key).or_default();
                arm.events += 1;
                if let Some(u) = user {
                    arm.users.insert(u);
                }
            }
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn consumed(&self) -> usize {
        self.consumed
    }

    /// Forgets everything (the messages were reset).
    pub(crate) fn restart(&mut self, generation: u64) {
        *self = Live {
            generation,
            ..Live::default()
        };
    }

    /// The newest rows (newest first) whose flag / user contain the given filters, at most
    /// `limit`: `{"total","exposures","events":[...]}`.
    pub(crate) fn events(&self, flag: &str, user: &str, limit: usize) -> Value {
        let matches = |x: &Option<String>, f: &str| {
            f.is_empty() || x.as_deref().is_some_and(|x| x.contains(f))
        };
        let rows: Vec<Value> = self
            .recent
            .iter()
            .rev()
            .filter(|r| matches(&r.flag, flag) && matches(&r.user, user))
            .take(limit)
            .map(|r| {
                json!({"seq": r.seq, "type": r.ty, "event": r.event, "user": r.user, "flag": r.flag,
                       "rule": r.rule, "variation": r.variation, "timestamp": r.timestamp})
            })
            .collect();
        json!({"total": self.consumed, "exposures": self.exposures, "kept": self.recent.len(), "events": rows})
    }

    /// Per rule: variations with their expected share, unique users and events, and the SRM
    /// verdict (see `summary_of_rule`).
    pub(crate) fn summary(&self, datafile: Option<&Datafile>) -> Value {
        let mut rules = RuleTable::new(datafile);
        for (key, arm) in &self.arms {
            let r = rules.rule_for(key);
            let v = rules.rules[r].variation_for(key);
            let var = &mut rules.rules[r].variations[v];
            var.events += arm.events;
            var.users.extend(arm.users.iter().map(String::as_str));
        }
        json!({
            "messages": self.consumed,
            "exposures": self.exposures,
            "unreadable": self.unreadable,
            "alpha": ALPHA,
            "min_users": MIN_USERS,
            "min_expected": MIN_EXPECTED,
            "counting": COUNTING,
            "datafile": datafile.map(|d| json!({"revision": d.revision, "experiments": d.experiment_count()})),
            "rules": rules.rules.iter().filter(|r| r.shown()).map(RuleAcc::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Rules being summed up: the datafile's experiments first, then the others that got exposures.
struct RuleTable<'a> {
    datafile: Option<&'a Datafile>,
    rules: Vec<RuleAcc<'a>>,
    /// Datafile rule index -> index in `rules`.
    placed: HashMap<usize, usize>,
}

struct RuleAcc<'a> {
    flag: Option<String>,
    key: Option<String>,
    id: Option<String>,
    /// None: not in the datafile.
    kind: Option<RuleKind>,
    variations: Vec<VarAcc<'a>>,
}

struct VarAcc<'a> {
    id: Option<String>,
    key: Option<String>,
    /// Buckets of 10000 from the traffic allocation (0: not in it, or not in the datafile).
    buckets: u32,
    events: u64,
    users: HashSet<&'a str>,
}

impl<'a> RuleTable<'a> {
    fn new(datafile: Option<&'a Datafile>) -> RuleTable<'a> {
        let mut t = RuleTable {
            datafile,
            rules: Vec::new(),
            placed: HashMap::new(),
        };
        if let Some(d) = datafile {
            for (i, r) in d.rules.iter().enumerate() {
                if r.kind == RuleKind::Experiment {
                    t.place(i, r);
                }
            }
        }
        t
    }

    fn place(&mut self, index: usize, r: &Rule) -> usize {
        if let Some(&at) = self.placed.get(&index) {
            return at;
        }
        self.rules.push(RuleAcc {
            flag: r.flag.clone(),
            key: Some(r.key.clone()),
            id: Some(r.id.clone()),
            kind: Some(r.kind),
            variations: r
                .variations
                .iter()
                .map(|v| VarAcc {
                    id: Some(v.id.clone()),
                    key: Some(v.key.clone()),
                    buckets: v.buckets,
                    events: 0,
                    users: HashSet::new(),
                })
                .collect(),
        });
        self.placed.insert(index, self.rules.len() - 1);
        self.rules.len() - 1
    }

    /// The rule an exposure belongs to: by rule id, else by flag and rule key, else by a rule
    /// key only one datafile rule has; else a rule of its own that is not in the datafile.
    fn rule_for(&mut self, k: &ArmKey) -> usize {
        if let Some(d) = self.datafile {
            let by_id = k
                .rule_id
                .as_ref()
                .and_then(|id| d.rules.iter().position(|r| &r.id == id));
            let by_flag_and_key = || {
                let key = k.rule_key.as_ref()?;
                let flag = k.flag.as_ref()?;
                d.rules
                    .iter()
                    .position(|r| &r.key == key && r.flag.as_ref() == Some(flag))
            };
            let by_unique_key = || {
                let key = k.rule_key.as_ref()?;
                let mut it = d.rules.iter().enumerate().filter(|(_, r)| &r.key == key);
                match (it.next(), it.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            };
            if let Some(i) = by_id.or_else(by_flag_and_key).or_else(by_unique_key) {
                return self.place(i, &d.rules[i]);
            }
        }
        let found = self.rules.iter().position(|r| {
            r.kind.is_none() && r.flag == k.flag && r.key == k.rule_key && r.id == k.rule_id
        });
        found.unwrap_or_else(|| {
            self.rules.push(RuleAcc {
                flag: k.flag.clone(),
                key: k.rule_key.clone(),
                id: k.rule_id.clone(),
                kind: None,
                variations: Vec::new(),
            });
            self.rules.len() - 1
        })
    }
}

impl<'a> RuleAcc<'a> {
    /// The variation an exposure names: by id, else by key; else a new one outside the
    /// allocation.
    fn variation_for(&mut self, k: &ArmKey) -> usize {
        let by_id = k.variation_id.as_ref().and_then(|id| {
            self.variations
                .iter()
                .position(|v| v.id.as_ref() == Some(id))
        });
        let by_key = || {
            let key = k.variation_key.as_ref()?;
            self.variations
                .iter()
                .position(|v| v.key.as_ref() == Some(key))
        };
        by_id.or_else(by_key).unwrap_or_else(|| {
            self.variations.push(VarAcc {
                id: k.variation_id.clone(),
                key: k.variation_key.clone(),
                buckets: 0,
                events: 0,
                users: HashSet::new(),
            });
            self.variations.len() - 1
        })
    }

    /// Datafile experiments always; other rules once they have exposures.
    fn shown(&self) -> bool {
        self.kind == Some(RuleKind::Experiment) || self.variations.iter().any(|v| v.events > 0)
    }

    fn to_json(&self) -> Value {
        let in_allocation: Vec<&VarAcc> =
            self.variations.iter().filter(|v| v.buckets > 0).collect();
        let total_buckets: u32 = in_allocation.iter().map(|v| v.buckets).sum();
        let n_in: u64 = in_allocation.iter().map(|v| v.users.len() as u64).sum();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for v in &self.variations {
            for u in &v.users {
                *seen.entry(u).or_default() += 1;
            }
        }
        let several = seen.values().filter(|&&n| n > 1).count();
        let outside: u64 = self
            .variations
            .iter()
            .filter(|v| v.buckets == 0)
            .map(|v| v.users.len() as u64)
            .sum();
        let variations: Vec<Value> = self
            .variations
            .iter()
            .map(|v| {
                let share = (v.buckets > 0).then(|| v.buckets as f64 / total_buckets as f64);
                json!({
                    "id": v.id, "key": v.key, "buckets": v.buckets, "share": share,
                    "expected": share.map(|s| s * n_in as f64),
                    "users": v.users.len(), "events": v.events,
                })
            })
            .collect();
        let kind = match self.kind {
            Some(RuleKind::Experiment) => "experiment",
            Some(RuleKind::Rollout) => "rollout",
            None => "not_in_datafile",
        };
        json!({
            "flag": self.flag, "rule": self.key, "rule_id": self.id, "kind": kind,
            "users": seen.len(), "events": self.variations.iter().map(|v| v.events).sum::<u64>(),
            "users_in_several_variations": several,
            "users_outside_allocation": outside,
            "variations": variations,
            "srm": self.srm(&in_allocation, total_buckets, n_in),
        })
    }

    fn srm(&self, arms: &[&VarAcc], total_buckets: u32, n: u64) -> Value {
        let verdict = |status: &str, message: String| json!({"status": status, "chi2": null, "df": null, "p_value": null, "message": message});
        if self.kind.is_none() {
            return verdict(
                "no_allocation",
                "Not in the datafile: no expected split to test against.".into(),
            );
        }
        if arms.len() < 2 {
            return verdict(
                "no_allocation",
                "Fewer than two variations get traffic: nothing to compare.".into(),
            );
        }
        let observed: Vec<u64> = arms.iter().map(|v| v.users.len() as u64).collect();
        let weights: Vec<f64> = arms.iter().map(|v| v.buckets as f64).collect();
        let Some(t) = chi_square(&observed, &weights) else {
            return verdict("no_data", "No exposures yet.".into());
        };
        let min_expected = weights
            .iter()
            .map(|w| n as f64 * w / total_buckets as f64)
            .fold(f64::INFINITY, f64::min);
        let (status, message) = if n < MIN_USERS || min_expected < MIN_EXPECTED {
            (
                "not_enough_data",
                format!(
                    "Not enough data yet: {n} users (the test needs at least {MIN_USERS} and an expected count of at least {MIN_EXPECTED} per variation)."
                ),
            )
        } else if t.p_value < ALPHA {
            (
                "mismatch",
                format!(
                    "Sample ratio mismatch: p = {:.3e} < {ALPHA}. The users per variation do not match the traffic allocation: exposures are being lost, duplicated or mis-assigned for some variation.",
                    t.p_value
                ),
            )
        } else {
            (
                "ok",
                format!("No sample ratio mismatch (p = {:.3} ≥ {ALPHA}).", t.p_value),
            )
        };
        json!({"status": status, "chi2": t.chi2, "df": t.df, "p_value": t.p_value, "message": message})
    }
}
