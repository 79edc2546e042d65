//! Datafile index: which rules are experiments, deliveries and holdouts, keyed **by flag** (rule
//! keys repeat across flags) and by rule id, plus the ids and types the event needs.
//!
//! Built as the Optimizely SDKs build their project config (python-sdk 5.7.0
//! `optimizely/project_config.py`, go-sdk v2.3.1 `pkg/config/datafileprojectconfig/mappers/holdout.go`):
//! - experiments in `experiments[]` and `groups[].experiments[]`, deliveries in `rollouts[]`;
//! - Feature Rollout (`"type": "fr"`) experiments get the flag's "everyone else" variation (the
//!   first variation of the last rule of the flag's rollout), which the SDKs inject and bucket
//!   users into;
//! - holdouts, `Running` ones only: global `holdouts[]` apply to every flag except its
//!   `excludedFlags`, or only to its `includedFlags` when listed (go-sdk v2.3.1, python-sdk 5.3–5.4;
//!   python-sdk ≥ 5.5 applies them to every flag); `localHoldouts[]` apply to the rules in their
//!   `includedRules` (python-sdk ≥ 5.6). Because SDK versions scope global holdouts differently, a
//!   Running holdout is also recognized by key on any flag where the flag's own rules don't use the
//!   key: a decision that names it can only come from an SDK that applied it.

use rustc_hash::FxHashMap as HashMap;
use serde::Deserialize;

use crate::counts::Slot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// In `experiments[]` or `groups[].experiments[]` (A/B, MAB, CMAB, feature-rollout "fr", "td").
    Experiment,
    /// In `rollouts[].experiments[]` (targeted delivery, "Everyone Else").
    Delivery,
    /// In `holdouts[]` or `localHoldouts[]`, status Running.
    Holdout,
}

#[derive(Debug, Clone)]
pub struct Variation {
    pub id: String,
    /// Position of this variation's counter slot in a `FlagRule`.
    slot: usize,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub key: String,
    pub kind: RuleKind,
    /// The datafile's experiment `type` (`ab`, `mab`, `cmab`, `fr`, `td`) when present.
    pub experiment_type: Option<String>,
    /// The flag this rule belongs to, when the datafile says (never for holdouts: they span flags).
    pub flag_key: Option<String>,
    /// variation key -> variation
    pub variations: HashMap<String, Variation>,
}

/// One rule as one flag sees it, with one exposure counter slot per variation of the rule.
#[derive(Debug)]
struct FlagRule {
    rule: usize,
    slots: Box<[Slot]>,
}

impl FlagRule {
    fn new(rule: usize, variations: usize) -> FlagRule {
        FlagRule { rule, slots: (0..variations).map(|_| Slot::new()).collect() }
    }
}

impl Clone for FlagRule {
    /// A copy with empty slots: the counters belong to one process (see `DatafileIndex::fresh_copy`).
    fn clone(&self) -> FlagRule {
        FlagRule::new(self.rule, self.slots.len())
    }
}

#[derive(Debug, Clone, Default)]
struct Flag {
    /// rule key -> the rule (the flag's experiments, then deliveries, then holdouts in scope)
    rules: HashMap<String, FlagRule>,
    /// Every variation of the flag's experiments and deliveries, key -> id: a forced decision may
    /// use any of them on any rule of the flag, as the SDKs validate forced variations by flag.
    variations: HashMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct DatafileIndex {
    rules: Vec<Rule>,
    flags: HashMap<String, Flag>,
    by_id: HashMap<String, usize>,
    /// Experiment key -> index, for legacy `ab-test` decisions, which carry no flag.
    experiments_by_key: HashMap<String, usize>,
    /// Running holdout key -> index, on any flag (see the module comment).
    holdouts_by_key: HashMap<String, usize>,
    pub revision: String,
}

/// A rule found for a decision, with the flag it was found in.
#[derive(Clone, Copy)]
pub struct Found<'d> {
    pub rule: &'d Rule,
    flag: Option<&'d Flag>,
    flag_rule: Option<&'d FlagRule>,
}

impl<'d> Found<'d> {
    /// The variation's id and counter slot: the rule's own variation, else (a forced decision) the
    /// flag's variation of that key, which has no slot.
    pub fn variation(&self, key: &str) -> Option<(&'d str, Option<&'d Slot>)> {
        if let Some(v) = self.rule.variations.get(key) {
            return Some((v.id.as_str(), self.flag_rule.and_then(|fr| fr.slots.get(v.slot))));
        }
        self.flag?.variations.get(key).map(|id| (id.as_str(), None))
    }
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
    holdouts: Vec<RawHoldout>,
    #[serde(rename = "localHoldouts", default)]
    local_holdouts: Vec<RawHoldout>,
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
    #[serde(default)]
    id: String,
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
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    variations: Vec<RawVariation>,
}

#[derive(Deserialize)]
struct RawHoldout {
    id: String,
    key: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    variations: Vec<RawVariation>,
    #[serde(rename = "includedFlags", default)]
    included_flags: Vec<String>,
    #[serde(rename = "excludedFlags", default)]
    excluded_flags: Vec<String>,
    #[serde(rename = "includedRules", default)]
    included_rules: Option<Vec<String>>,
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

        for rule in raw.experiments.into_iter().chain(raw.groups.into_iter().flat_map(|g| g.experiments)) {
            let i = index.add(rule.id, rule.key, RuleKind::Experiment, rule.kind, rule.variations);
            index.experiments_by_key.insert(index.rules[i].key.clone(), i);
        }
        let mut rollouts: HashMap<String, Vec<usize>> = HashMap::default();
        for rollout in raw.rollouts {
            let ids =
                rollout.experiments.into_iter().map(|r| index.add(r.id, r.key, RuleKind::Delivery, r.kind, r.variations)).collect();
            rollouts.insert(rollout.id, ids);
        }

        // The flags' own rules first: they win over a holdout of the same key.
        let mut flag_ids: HashMap<String, String> = HashMap::default();
        for raw_flag in &raw.feature_flags {
            flag_ids.insert(raw_flag.id.clone(), raw_flag.key.clone());
            let experiments: Vec<usize> = raw_flag.experiment_ids.iter().filter_map(|id| index.by_id.get(id).copied()).collect();
            let deliveries: &[usize] = raw_flag.rollout_id.as_ref().and_then(|id| rollouts.get(id)).map_or(&[], |v| v);
            index.inject_everyone_else(&experiments, deliveries);
            let mut flag = Flag::default();
            for &i in experiments.iter().chain(deliveries) {
                let rule = &mut index.rules[i];
                rule.flag_key = Some(raw_flag.key.clone());
                // An experiment rule wins over a delivery rule of the same key in one flag.
                flag.rules.entry(rule.key.clone()).or_insert_with(|| FlagRule::new(i, rule.variations.len()));
                for (key, v) in &rule.variations {
                    flag.variations.entry(key.clone()).or_insert_with(|| v.id.clone());
                }
            }
            index.flags.insert(raw_flag.key.clone(), flag);
        }

        for holdout in raw.holdouts.into_iter().filter(|h| h.status == "Running") {
            let scope: Vec<String> = if holdout.included_flags.is_empty() {
                let excluded: Vec<&String> = holdout.excluded_flags.iter().filter_map(|id| flag_ids.get(id)).collect();
                index.flags.keys().filter(|k| !excluded.contains(k)).cloned().collect()
            } else {
                holdout.included_flags.iter().filter_map(|id| flag_ids.get(id).cloned()).collect()
            };
            index.add_holdout(holdout, &scope);
        }
        for holdout in raw.local_holdouts.into_iter().filter(|h| h.status == "Running") {
            // python-sdk excludes a local holdout without `includedRules` from evaluation.
            let Some(rules) = &holdout.included_rules else { continue };
            let scope: Vec<String> =
                rules.iter().filter_map(|id| index.by_id.get(id)).filter_map(|&i| index.rules[i].flag_key.clone()).collect();
            index.add_holdout(holdout, &scope);
        }
        Ok(index)
    }

    fn add(&mut self, id: String, key: String, kind: RuleKind, experiment_type: Option<String>, variations: Vec<RawVariation>) -> usize {
        let mut map: HashMap<String, Variation> = HashMap::default();
        for v in variations {
            let slot = map.len();
            map.entry(v.key).or_insert(Variation { id: v.id, slot });
        }
        let i = self.rules.len();
        self.by_id.insert(id.clone(), i);
        self.rules.push(Rule { id, key, kind, experiment_type: experiment_type.filter(|t| !t.is_empty()), flag_key: None, variations: map });
        i
    }

    fn add_holdout(&mut self, holdout: RawHoldout, scope: &[String]) {
        let i = self.add(holdout.id, holdout.key, RuleKind::Holdout, None, holdout.variations);
        let (key, n) = (self.rules[i].key.clone(), self.rules[i].variations.len());
        self.holdouts_by_key.entry(key.clone()).or_insert(i);
        for flag_key in scope {
            if let Some(flag) = self.flags.get_mut(flag_key) {
                flag.rules.entry(key.clone()).or_insert_with(|| FlagRule::new(i, n));
            }
        }
    }

    /// Feature Rollout: the SDKs add the flag's "everyone else" variation to each `fr` experiment
    /// of the flag (python-sdk 5.7.0 `ProjectConfig.__init__` / `_get_everyone_else_variation`).
    fn inject_everyone_else(&mut self, experiments: &[usize], deliveries: &[usize]) {
        let Some(&last) = deliveries.last() else { return };
        // The SDK takes the first variation listed; the map keeps slot order, so find slot 0.
        let Some((key, id)) =
            self.rules[last].variations.iter().find(|(_, v)| v.slot == 0).map(|(k, v)| (k.clone(), v.id.clone()))
        else {
            return;
        };
        for &i in experiments {
            let rule = &mut self.rules[i];
            if rule.experiment_type.as_deref() == Some("fr") {
                let slot = rule.variations.get(&key).map_or(rule.variations.len(), |v| v.slot);
                rule.variations.insert(key.clone(), Variation { id: id.clone(), slot });
            }
        }
    }

    /// A `flag` or legacy `feature` decision's rule: by key within the flag (checked against the
    /// SDK's experiment id when it sent one), else by that id (unique), else a Running holdout of
    /// that key. The common case is two hash lookups.
    pub fn find(&self, flag_key: Option<&str>, rule_key: &str, experiment_id: Option<&str>) -> Option<Found<'_>> {
        let flag = flag_key.and_then(|f| self.flags.get(f));
        if let Some(fr) = flag.and_then(|f| f.rules.get(rule_key)) {
            let rule = &self.rules[fr.rule];
            if experiment_id.map_or(true, |id| id == rule.id) {
                return Some(Found { rule, flag, flag_rule: Some(fr) });
            }
        }
        let i = experiment_id.and_then(|id| self.by_id.get(id)).or_else(|| self.holdouts_by_key.get(rule_key)).copied()?;
        let flag_rule = flag.and_then(|f| f.rules.get(&self.rules[i].key)).filter(|fr| fr.rule == i);
        Some(Found { rule: &self.rules[i], flag, flag_rule })
    }

    /// A legacy `ab-test` / `feature-test` decision's experiment, which names no flag.
    pub fn experiment_by_key(&self, key: &str) -> Option<Found<'_>> {
        let i = *self.experiments_by_key.get(key)?;
        let flag = self.rules[i].flag_key.as_deref().and_then(|f| self.flags.get(f));
        let flag_rule = flag.and_then(|f| f.rules.get(key)).filter(|fr| fr.rule == i);
        Some(Found { rule: &self.rules[i], flag, flag_rule })
    }

    pub fn flag_count(&self) -> usize {
        self.flags.len()
    }

    /// The same index with empty counter slots, for a forked child: the slots the parent filled
    /// point at the parent's counters.
    pub fn fresh_copy(&self) -> DatafileIndex {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule<'a>(idx: &'a DatafileIndex, flag: &str, key: &str) -> Option<&'a Rule> {
        idx.find(Some(flag), key, None).map(|f| f.rule)
    }

    #[test]
    fn minimal_datafile() {
        let json = include_str!("../tests/data/datafile-repeated-rule-keys.json");
        let idx = DatafileIndex::parse(json).unwrap();
        // `shared_rule` is an experiment in flag_a and a delivery rule in flag_b.
        assert_eq!(rule(&idx, "flag_a", "shared_rule").unwrap().kind, RuleKind::Experiment);
        assert_eq!(rule(&idx, "flag_b", "shared_rule").unwrap().kind, RuleKind::Delivery);
        assert!(rule(&idx, "flag_a", "nope").is_none());
        assert!(DatafileIndex::parse("{").is_err());
        assert!(DatafileIndex::parse(r#"{"experiments":[{"key":"x"}]}"#).is_err());
    }

    #[test]
    fn holdouts_types_and_everyone_else() {
        let idx = DatafileIndex::parse(include_str!("../tests/data/datafile-holdouts.json")).unwrap();
        // Global holdout: every flag but the excluded one; recognized by key everywhere.
        let ho = rule(&idx, "checkout_flow", "global_holdout").unwrap();
        assert_eq!((ho.kind, ho.id.as_str()), (RuleKind::Holdout, "8001"));
        let found = idx.find(Some("checkout_flow"), "global_holdout", None).unwrap();
        assert_eq!(found.variation("off").map(|v| (v.0, v.1.is_some())), Some(("8101", true)));
        let excluded = idx.find(Some("search_flow"), "global_holdout", None).unwrap();
        assert_eq!(excluded.rule.kind, RuleKind::Holdout);
        assert!(excluded.flag_rule.is_none(), "excluded flag: no slot, still a holdout");
        // Only Running holdouts.
        assert!(idx.find(Some("checkout_flow"), "draft_holdout", None).is_none());
        assert!(idx.find(Some("checkout_flow"), "x", Some("8003")).is_none());
        // Local holdout, scoped to its included rule's flag.
        let local = idx.find(Some("checkout_flow"), "local_holdout", None).unwrap();
        assert_eq!((local.rule.kind, local.rule.id.as_str(), local.flag_rule.is_some()), (RuleKind::Holdout, "8002", true));
        assert!(idx.find(Some("search_flow"), "local_holdout", None).unwrap().flag_rule.is_none());
        // By id, whatever the flag.
        assert_eq!(idx.find(Some("search_flow"), "anything", Some("8002")).unwrap().rule.key, "local_holdout");
        // Experiment types.
        assert_eq!(rule(&idx, "checkout_flow", "checkout_ab").unwrap().experiment_type.as_deref(), Some("ab"));
        assert_eq!(rule(&idx, "checkout_flow", "checkout_delivery").unwrap().experiment_type, None);
        // fr: the everyone-else variation of the flag's rollout is a variation of the rule.
        let fr = idx.find(Some("search_flow"), "search_fr", None).unwrap();
        assert_eq!(fr.rule.experiment_type.as_deref(), Some("fr"));
        assert_eq!(fr.variation("off").map(|v| (v.0, v.1.is_some())), Some(("7202", true)));
        assert_eq!(fr.variation("on").map(|v| v.0), Some("5201"));
        // Forced decision: a variation of another rule of the flag, found by flag, without a slot.
        let ab = idx.find(Some("checkout_flow"), "checkout_ab", None).unwrap();
        assert_eq!(ab.variation("on").map(|v| (v.0, v.1.is_some())), Some(("7001", false)));
        assert!(ab.variation("nope").is_none());
        // A copy for a forked child has empty slots.
        let slot = found.variation("off").unwrap().1.unwrap();
        let _ = slot.set(Default::default());
        let copy = idx.fresh_copy();
        let copied = copy.find(Some("checkout_flow"), "global_holdout", None).unwrap().variation("off").unwrap().1.unwrap();
        assert!(slot.get().is_some() && copied.get().is_none());
    }
}
