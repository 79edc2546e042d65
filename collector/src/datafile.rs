//! The Optimizely datafile as the live page needs it: every rule (A/B experiments, including
//! those in mutually exclusive groups, and rollout rules) with its flag and the share of traffic
//! each variation gets.
//!
//! A rule's `trafficAllocation` is a list of `{entityId, endOfRange}` over 0..10000 buckets; the
//! range a variation owns is `endOfRange` minus the previous entry's. Ranges may repeat a
//! variation, and need not reach 10000: buckets beyond the last range, or given to an empty or
//! unknown `entityId`, are not in the experiment. The expected split therefore normalizes over
//! the variations' ranges only.

use std::collections::HashMap;

use serde::Deserialize;

/// Whether a rule sends exposures: experiments do, delivery (rollout) rules normally do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleKind {
    Experiment,
    Rollout,
}

pub(crate) struct Variation {
    pub(crate) id: String,
    pub(crate) key: String,
    /// Buckets (of 10000) allocated to this variation.
    pub(crate) buckets: u32,
}

pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) key: String,
    /// The flag whose rule this is (None for a legacy experiment no flag lists).
    pub(crate) flag: Option<String>,
    pub(crate) kind: RuleKind,
    pub(crate) variations: Vec<Variation>,
}

/// A parsed datafile.
pub(crate) struct Datafile {
    pub(crate) revision: Option<String>,
    pub(crate) rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    revision: Option<String>,
    #[serde(default)]
    experiments: Vec<ExperimentDoc>,
    #[serde(default)]
    groups: Vec<GroupDoc>,
    #[serde(default)]
    rollouts: Vec<RolloutDoc>,
    #[serde(default, rename = "featureFlags")]
    feature_flags: Vec<FlagDoc>,
}

#[derive(Deserialize)]
struct ExperimentDoc {
    id: String,
    key: String,
    #[serde(default)]
    variations: Vec<VariationDoc>,
    #[serde(default, rename = "trafficAllocation")]
    traffic_allocation: Vec<AllocationDoc>,
}

#[derive(Deserialize)]
struct VariationDoc {
    id: String,
    key: String,
}

#[derive(Deserialize)]
struct AllocationDoc {
    #[serde(rename = "entityId")]
    entity_id: String,
    #[serde(rename = "endOfRange")]
    end_of_range: u32,
}

#[derive(Deserialize)]
struct GroupDoc {
    #[serde(default)]
    experiments: Vec<ExperimentDoc>,
}

#[derive(Deserialize)]
struct RolloutDoc {
    id: String,
    #[serde(default)]
    experiments: Vec<ExperimentDoc>,
}

#[derive(Deserialize)]
struct FlagDoc {
    key: String,
    #[serde(default, rename = "experimentIds")]
    experiment_ids: Vec<String>,
    #[serde(default, rename = "rolloutId")]
    rollout_id: String,
}

impl Datafile {
    /// Parses datafile JSON text (only the parts described above are read).
    pub(crate) fn parse(text: &str) -> Result<Datafile, String> {
        let doc: Doc = serde_json::from_str(text).map_err(|e| format!("invalid datafile: {e}"))?;
        let mut flag_of_experiment = HashMap::new();
        let mut flag_of_rollout = HashMap::new();
        for f in &doc.feature_flags {
            for id in &f.experiment_ids {
                flag_of_experiment.insert(id.as_str(), f.key.as_str());
            }
            if !f.rollout_id.is_empty() {
                flag_of_rollout.insert(f.rollout_id.as_str(), f.key.as_str());
            }
        }
        let experiments = doc
            .experiments
            .iter()
            .chain(doc.groups.iter().flat_map(|g| &g.experiments));
        let mut rules: Vec<Rule> = experiments
            .map(|e| {
                let flag = flag_of_experiment.get(e.id.as_str()).copied();
                rule(e, flag, RuleKind::Experiment)
            })
            .collect();
        for r in &doc.rollouts {
            let flag = flag_of_rollout.get(r.id.as_str()).copied();
            rules.extend(
                r.experiments
                    .iter()
                    .map(|e| rule(e, flag, RuleKind::Rollout)),
            );
        }
        Ok(Datafile {
            revision: doc.revision,
            rules,
        })
    }

    pub(crate) fn experiment_count(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| r.kind == RuleKind::Experiment)
            .count()
    }
}

fn rule(e: &ExperimentDoc, flag: Option<&str>, kind: RuleKind) -> Rule {
    let mut buckets: HashMap<&str, u32> = HashMap::new();
    let mut start = 0u32;
    for a in &e.traffic_allocation {
        let end = a.end_of_range.min(10_000);
        *buckets.entry(a.entity_id.as_str()).or_default() += end.saturating_sub(start);
        start = start.max(end);
    }
    Rule {
        id: e.id.clone(),
        key: e.key.clone(),
        flag: flag.map(str::to_owned),
        kind,
        variations: e
            .variations
            .iter()
            .map(|v| Variation {
                id: v.id.clone(),
                key: v.key.clone(),
                buckets: buckets.get(v.id.as_str()).copied().unwrap_or(0),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_ranges_become_buckets_per_variation() {
        let text = r#"{"revision":"7",
          "experiments":[{"id":"1","key":"ab","variations":[{"id":"a","key":"A"},{"id":"b","key":"B"},{"id":"c","key":"C"}],
            "trafficAllocation":[{"entityId":"a","endOfRange":2000},{"entityId":"","endOfRange":2500},
                                 {"entityId":"b","endOfRange":5000},{"entityId":"a","endOfRange":6000}]}],
          "groups":[{"experiments":[{"id":"2","key":"grouped","variations":[{"id":"x","key":"X"}],
            "trafficAllocation":[{"entityId":"x","endOfRange":10000}]}]}],
          "rollouts":[{"id":"r","experiments":[{"id":"3","key":"everyone","variations":[{"id":"on","key":"on"}],
            "trafficAllocation":[{"entityId":"on","endOfRange":10000}]}]}],
          "featureFlags":[{"key":"f","experimentIds":["1"],"rolloutId":"r"},{"key":"g","experimentIds":["2"],"rolloutId":""}]}"#;
        let d = Datafile::parse(text).unwrap();
        assert_eq!(d.revision.as_deref(), Some("7"));
        assert_eq!(d.experiment_count(), 2);
        let ab = &d.rules[0];
        assert_eq!(
            (ab.key.as_str(), ab.flag.as_deref(), ab.kind),
            ("ab", Some("f"), RuleKind::Experiment)
        );
        let buckets: Vec<(&str, u32)> = ab
            .variations
            .iter()
            .map(|v| (v.key.as_str(), v.buckets))
            .collect();
        // a: 0-2000 and 5000-6000; the empty entity's 500 buckets and 6000-10000 are outside.
        assert_eq!(buckets, vec![("A", 3000), ("B", 2500), ("C", 0)]);
        assert_eq!(d.rules[1].flag.as_deref(), Some("g"));
        assert_eq!(
            (d.rules[2].kind, d.rules[2].flag.as_deref()),
            (RuleKind::Rollout, Some("f"))
        );
        assert!(Datafile::parse(r#"{"experiments":5}"#).is_err());
        assert!(Datafile::parse("not json").is_err());
    }
}
