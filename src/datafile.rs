//! Datafile index: which rules are experiments and which are deliveries, keyed **by flag**
//! (rule keys repeat across flags) and by rule id, plus the ids the event needs.

use rustc_hash::FxHashMap as HashMap;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// In `experiments[]` or `groups[].experiments[]` (A/B, MAB, CMAB, feature-rollout "fr").
    Experiment,
    /// In `rollouts[].experiments[]` (targeted delivery, "Everyone Else").
    Delivery,
    /// In `holdouts[]`.
    Holdout,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub key: String,
    pub kind: RuleKind,
    /// The flag this rule belongs to, when the datafile says.
    pub flag_key: Option<String>,
    /// variation key -> variation id
    pub variations: HashMap<String, String>,
}

#[derive(Debug, Default)]
pub struct DatafileIndex {
    rules: Vec<Rule>,
    /// flag key -> rule key -> index into `rules`
    by_flag: HashMap<String, HashMap<String, usize>>,
    by_id: HashMap<String, usize>,
    /// Experiment key -> index, for legacy `ab-test` decisions, which carry no flag.
    experiments_by_key: HashMap<String, usize>,
    pub revision: String,
}

#[derive(Deserialize)]
struct RawDatafile {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    revision: Option<String>,
    #[serde(default)]
    experiments: Vec<RawRule>,
    #[serde(default)]
    groups: Vec<RawGroup>,
    #[serde(default)]
    rollouts: Vec<RawRollout>,
    #[serde(rename = "featureFlags", default)]
    feature_flags: Vec<RawFlag>,
    #[serde(default)]
    holdouts: Vec<RawRule>,
}

#[derive(Deserialize)]
struct RawGroup {
    #[serde(default)]
    experiments: Vec<RawRule>,
}

#[derive(Deserialize)]
struct RawRollout {
    id: String,
    #[serde(default)]
    experiments: Vec<RawRule>,
}

#[derive(Deserialize)]
struct RawFlag {
    key: String,
    #[serde(rename = "experimentIds", default)]
    experiment_ids: Vec<String>,
    #[serde(rename = "rolloutId", default)]
    rollout_id: Option<String>,
}

#[derive(Deserialize)]
struct RawRule {
    id: String,
    key: String,
    #[serde(default)]
    variations: Vec<RawVariation>,
}

#[derive(Deserialize)]
struct RawVariation {
    id: String,
    key: String,
}

impl DatafileIndex {
    pub fn parse(json: &str) -> Result<DatafileIndex, String> {
        if !json.trim_start().starts_with('{') {
            return Err("datafile: must be a JSON object".to_string());
        }
        let raw: RawDatafile = serde_json::from_str(json).map_err(|e| format!("datafile: {e}"))?;
        if raw.version.is_none() {
            return Err("datafile: `version` is missing; is this an Optimizely datafile?".to_string());
        }
        let mut index = DatafileIndex { revision: raw.revision.unwrap_or_default(), ..Default::default() };

        let add = |index: &mut DatafileIndex, rule: RawRule, kind: RuleKind| -> usize {
            let variations = rule.variations.into_iter().map(|v| (v.key, v.id)).collect();
            let i = index.rules.len();
            index.by_id.insert(rule.id.clone(), i);
            if kind == RuleKind::Experiment {
                index.experiments_by_key.insert(rule.key.clone(), i);
            }
            index.rules.push(Rule { id: rule.id, key: rule.key, kind, flag_key: None, variations });
            i
        };
        for rule in raw.experiments {
            add(&mut index, rule, RuleKind::Experiment);
        }
        for group in raw.groups {
            for rule in group.experiments {
                add(&mut index, rule, RuleKind::Experiment);
            }
        }
        let mut rollouts: HashMap<String, Vec<usize>> = HashMap::default();
        for rollout in raw.rollouts {
            let ids = rollout.experiments.into_iter().map(|r| add(&mut index, r, RuleKind::Delivery)).collect();
            rollouts.insert(rollout.id, ids);
        }
        for rule in raw.holdouts {
            add(&mut index, rule, RuleKind::Holdout);
        }
        for flag in raw.feature_flags {
            let mut rules: HashMap<String, usize> = HashMap::default();
            let attach = |index: &mut DatafileIndex, i: usize, rules: &mut HashMap<String, usize>| {
                index.rules[i].flag_key = Some(flag.key.clone());
                // An experiment rule wins over a delivery rule of the same key in one flag.
                rules.entry(index.rules[i].key.clone()).or_insert(i);
            };
            for id in &flag.experiment_ids {
                if let Some(&i) = index.by_id.get(id) {
                    attach(&mut index, i, &mut rules);
                }
            }
            if let Some(ids) = flag.rollout_id.as_ref().and_then(|id| rollouts.get(id)) {
                for &i in ids {
                    attach(&mut index, i, &mut rules);
                }
            }
            index.by_flag.insert(flag.key, rules);
        }
        Ok(index)
    }

    pub fn has_flag(&self, flag_key: &str) -> bool {
        self.by_flag.contains_key(flag_key)
    }

    pub fn rule_in_flag(&self, flag_key: &str, rule_key: &str) -> Option<&Rule> {
        self.by_flag.get(flag_key)?.get(rule_key).map(|&i| &self.rules[i])
    }

    pub fn rule_by_id(&self, id: &str) -> Option<&Rule> {
        self.by_id.get(id).map(|&i| &self.rules[i])
    }

    pub fn experiment_by_key(&self, key: &str) -> Option<&Rule> {
        self.experiments_by_key.get(key).map(|&i| &self.rules[i])
    }

    pub fn flag_count(&self) -> usize {
        self.by_flag.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_datafile() {
        let json = include_str!("../tests/data/datafile-repeated-rule-keys.json");
        let idx = DatafileIndex::parse(json).unwrap();
        // `shared_rule` is an experiment in flag_a and a delivery rule in flag_b.
        assert_eq!(idx.rule_in_flag("flag_a", "shared_rule").unwrap().kind, RuleKind::Experiment);
        assert_eq!(idx.rule_in_flag("flag_b", "shared_rule").unwrap().kind, RuleKind::Delivery);
        assert!(idx.rule_in_flag("flag_a", "nope").is_none());
        assert!(DatafileIndex::parse("{").is_err());
        assert!(DatafileIndex::parse(r#"{"experiments":[{"key":"x"}]}"#).is_err());
    }
}
