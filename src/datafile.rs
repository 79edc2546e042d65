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
    /// Position of this variation's counter slot in its rule's `slots`.
    slot: usize,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub key: String,
    pub kind: RuleKind,
    /// The datafile's experiment `type` (`ab`, `mab`, `cmab`, `fr`, `td`) when present.
    pub experiment_type: Option<String>,
    /// The flag this entry belongs to. A holdout spans flags: it has one entry per flag in its
    /// scope and one with no flag (found by id, or by key on flags outside the scope).
    pub flag_key: Option<String>,
    /// variation key -> variation
    pub variations: HashMap<String, Variation>,
    /// One exposure counter slot per variation, for (flag_key, key, variation).
    slots: Box<[Slot]>,
}

impl Clone for Rule {
    /// A copy with empty slots: the counters belong to one process (see `DatafileIndex::fresh_copy`).
    fn clone(&self) -> Rule {
        Rule {
            id: self.id.clone(),
            key: self.key.clone(),
            kind: self.kind,
            experiment_type: self.experiment_type.clone(),
            flag_key: self.flag_key.clone(),
            variations: self.variations.clone(),
            slots: new_slots(self.slots.len()),
        }
    }
}

fn new_slots(n: usize) -> Box<[Slot]> {
    (0..n).map(|_| Slot::new()).collect()
}

#[derive(Debug, Clone, Default)]
struct Flag {
    /// rule key -> entry (the flag's experiments, then deliveries, then holdouts in scope)
    rules: HashMap<String, usize>,
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
    /// Running holdout key -> its entry with no flag, on any flag (see the module comment).
    holdouts_by_key: HashMap<String, usize>,
    pub revision: String,
}

/// A rule found for a decision on `flag_key`.
#[derive(Clone, Copy)]
pub struct Found<'d, 'f> {
    pub rule: &'d Rule,
    index: &'d DatafileIndex,
    flag_key: Option<&'f str>,
}

impl<'d> Found<'d, '_> {
    /// The variation's id and counter slot: the rule's own variation (with a slot when the entry
    /// is this flag's), else (a forced decision) the flag's variation of that key, with no slot.
    pub fn variation(&self, key: &str) -> Option<(&'d str, Option<&'d Slot>)> {
        if let Some(v) = self.rule.variations.get(key) {
            let slot = if self.rule.flag_key.as_deref() == self.flag_key { self.rule.slots.get(v.slot) } else { None };
            return Some((v.id.as_str(), slot));
        }
        self.index.flags.get(self.flag_key?)?.variations.get(key).map(|id| (id.as_str(), None))
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
                flag.rules.entry(rule.key.clone()).or_insert(i);
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
        for rule in &mut index.rules {
            rule.slots = new_slots(rule.variations.values().map(|v| v.slot + 1).max().unwrap_or(0));
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
        let experiment_type = experiment_type.filter(|t| !t.is_empty());
        self.rules.push(Rule { id, key, kind, experiment_type, flag_key: None, variations: map, slots: Box::default() });
        i
    }

    /// The holdout's entry with no flag (by id, and by key anywhere), and one per flag in `scope`.
    fn add_holdout(&mut self, holdout: RawHoldout, scope: &[String]) {
        let i = self.add(holdout.id, holdout.key, RuleKind::Holdout, None, holdout.variations);
        let key = self.rules[i].key.clone();
        self.holdouts_by_key.entry(key.clone()).or_insert(i);
        for flag_key in scope {
            let Some(flag) = self.flags.get(flag_key) else { continue };
            if flag.rules.contains_key(&key) {
                continue;
            }
            let entry = Rule { flag_key: Some(flag_key.clone()), ..self.rules[i].clone() };
            self.rules.push(entry);
            let j = self.rules.len() - 1;
            if let Some(flag) = self.flags.get_mut(flag_key) {
                flag.rules.insert(key.clone(), j);
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

    /// A `flag` or legacy `feature` decision's rule: by the SDK's experiment id (unique; one hash
    /// lookup on the ABI 2 fast path), else by key within the flag, else a Running holdout of that
    /// key.
    pub fn find<'f>(&self, flag_key: Option<&'f str>, rule_key: &str, experiment_id: Option<&str>) -> Option<Found<'_, 'f>> {
        let found = |i: usize| Found { rule: &self.rules[i], index: self, flag_key };
        if let Some(&i) = experiment_id.and_then(|id| self.by_id.get(id)) {
            let rule = &self.rules[i];
            if rule.kind == RuleKind::Holdout {
                // A holdout's id names its entry with no flag; this flag's own entry has its counters.
                let own = flag_key.and_then(|f| self.flags.get(f)).and_then(|f| f.rules.get(&rule.key)).copied();
                if let Some(j) = own.filter(|&j| self.rules[j].id == rule.id) {
                    return Some(found(j));
                }
            }
            return Some(found(i));
        }
        let in_flag = flag_key.and_then(|f| self.flags.get(f)).and_then(|f| f.rules.get(rule_key)).copied();
        in_flag.or_else(|| self.holdouts_by_key.get(rule_key).copied()).map(found)
    }

    /// A legacy `ab-test` / `feature-test` decision's experiment, which names no flag.
    pub fn experiment_by_key(&self, key: &str) -> Option<Found<'_, '_>> {
        let i = *self.experiments_by_key.get(key)?;
        Some(Found { rule: &self.rules[i], index: self, flag_key: self.rules[i].flag_key.as_deref() })
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
        assert!(excluded.variation("off").unwrap().1.is_none(), "excluded flag: no slot, still a holdout");
        // Only Running holdouts.
        assert!(idx.find(Some("checkout_flow"), "draft_holdout", None).is_none());
        assert!(idx.find(Some("checkout_flow"), "x", Some("8003")).is_none());
        // Local holdout, scoped to its included rule's flag.
        let local = idx.find(Some("checkout_flow"), "local_holdout", None).unwrap();
        assert_eq!((local.rule.kind, local.rule.id.as_str(), local.variation("off").unwrap().1.is_some()), (RuleKind::Holdout, "8002", true));
        assert!(idx.find(Some("search_flow"), "local_holdout", None).unwrap().variation("off").unwrap().1.is_none());
        // By id, whatever the flag; on a flag in scope, that flag's entry (with its counters).
        assert_eq!(idx.find(Some("search_flow"), "anything", Some("8002")).unwrap().rule.key, "local_holdout");
        let by_id = idx.find(Some("checkout_flow"), "global_holdout", Some("8001")).unwrap();
        assert!(std::ptr::eq(by_id.rule, ho) && by_id.variation("off").unwrap().1.is_some());
        // By id for experiments: the ABI 2 fast path carries it; an unknown id falls back to the key.
        assert_eq!(idx.find(Some("checkout_flow"), "checkout_ab", Some("2001")).unwrap().rule.id, "2001");
        assert_eq!(idx.find(Some("checkout_flow"), "checkout_ab", Some("9999999")).unwrap().rule.id, "2001");
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
