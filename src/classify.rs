//! Classification (docs/design.md §4, issues 12 and 19): is this decision an exposure, from which kind of
//! rule, and with which ids? `decisionEventDispatched` is never the experiment marker; it only
//! mirrors `DISABLE_DECISION_EVENT` (rule 2).

use crate::config::Config;
use crate::counts::Slot;
use crate::datafile::{DatafileIndex, Found, RuleKind};
use crate::decision::{Decision, DecisionType};

/// The event's `ruleType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    Experiment,
    Holdout,
    Rollout,
}

impl RuleType {
    fn of(kind: RuleKind) -> RuleType {
        match kind {
            RuleKind::Experiment => RuleType::Experiment,
            RuleKind::Holdout => RuleType::Holdout,
            RuleKind::Delivery => RuleType::Rollout,
        }
    }
}

/// What the event needs beyond the decision itself, filled from the datafile when known.
#[derive(Debug, Default)]
pub struct ExposureIds<'d> {
    pub flag_key: Option<&'d str>,
    pub experiment_id: Option<&'d str>,
    pub variation_id: Option<&'d str>,
    /// `None` when it cannot be known: a `flag` decision without a datafile, or one the datafile
    /// never listed (resolved by the fallback rule).
    pub rule_type: Option<RuleType>,
    /// The datafile's experiment `type` (`ab`, `mab`, `cmab`, `fr`, `td`) when present.
    pub experiment_type: Option<&'d str>,
    /// The index's cache of this (flag, rule, variation)'s exposure counter.
    pub counter: Option<&'d Slot>,
}

impl PartialEq for ExposureIds<'_> {
    fn eq(&self, other: &Self) -> bool {
        let slot = |s: Option<&Slot>| s.map(|s| s as *const Slot);
        (self.flag_key, self.experiment_id, self.variation_id, self.rule_type, self.experiment_type)
            == (other.flag_key, other.experiment_id, other.variation_id, other.rule_type, other.experiment_type)
            && slot(self.counter) == slot(other.counter)
    }
}

#[derive(Debug, PartialEq)]
pub enum Classification<'d> {
    Exposure(ExposureIds<'d>),
    /// Not an exposure; the reason is for debug logs and `flagwire_last_error`.
    Skip(&'static str),
    /// A `flag` decision whose rule the datafile does not list (and is no holdout): the SDK may have
    /// a newer datafile. The caller holds it until the next datafile or the fallback rule decides.
    Unlisted,
}

pub fn classify<'d>(d: &Decision<'_>, datafile: Option<&'d DatafileIndex>, config: &Config) -> Classification<'d> {
    let (Some(rule_key), Some(variation_key)) = (d.rule_key.as_deref(), d.variation_key.as_deref()) else {
        return Classification::Skip("no rule or no variation: not an exposure");
    };
    // Legacy notifications say where the decision came from; `flag` ones do not.
    let stated = match d.decision_type {
        DecisionType::Feature | DecisionType::FeatureVariable => match d.source.as_deref() {
            Some("feature-test") => Some(RuleKind::Experiment),
            Some("rollout") => Some(RuleKind::Delivery),
            Some("holdout") => Some(RuleKind::Holdout),
            _ => return Classification::Skip("legacy decision from no experiment"),
        },
        DecisionType::Experiment => Some(RuleKind::Experiment),
        DecisionType::Flag => None,
    };
    let found = datafile.and_then(|index| match d.decision_type {
        DecisionType::Experiment => index.experiment_by_key(rule_key),
        _ => index.find(d.flag_key.as_deref(), rule_key, d.experiment_id.as_deref()),
    });

    let mut ids = ExposureIds::default();
    let kind = match (found, stated) {
        (Some(found), _) => {
            fill(&mut ids, &found, variation_key);
            stated.or(Some(found.rule.kind))
        }
        (None, Some(kind)) => Some(kind),
        // Rule 3 (no datafile): keys present = exposure, of a kind that cannot be known.
        (None, None) if datafile.is_none() => None,
        (None, None) => {
            let could_be_exposure = config.include_rollouts
                || !(config.honor_disable_decision_event && d.decision_event_dispatched == Some(false));
            if could_be_exposure {
                return Classification::Unlisted;
            }
            return Classification::Skip("decision event disabled (DISABLE_DECISION_EVENT) on a rule the datafile does not list");
        }
    };
    ids.rule_type = kind.map(RuleType::of);

    match kind {
        Some(RuleKind::Delivery) if config.include_rollouts => return Classification::Exposure(ids),
        Some(RuleKind::Delivery) => return Classification::Skip("delivery (rollout) rule"),
        Some(RuleKind::Holdout) if !config.include_holdouts => return Classification::Skip("holdout (include_holdouts is off)"),
        _ => {}
    }
    if config.honor_disable_decision_event {
        // Optimizely counts no impression for these, so neither do we (docs/design.md §4 rule 2).
        if d.decision_event_dispatched == Some(false) {
            return Classification::Skip("decision event disabled (DISABLE_DECISION_EVENT): not counted by Optimizely");
        }
        if d.decision_type == DecisionType::FeatureVariable {
            return Classification::Skip("variable getter: Optimizely sends no impression for it");
        }
    }
    Classification::Exposure(ids)
}

fn fill<'d>(ids: &mut ExposureIds<'d>, found: &Found<'d, '_>, variation_key: &str) {
    let rule = found.rule;
    ids.flag_key = rule.flag_key.as_deref();
    ids.experiment_id = Some(rule.id.as_str());
    ids.experiment_type = rule.experiment_type.as_deref();
    if let Some((id, counter)) = found.variation(variation_key) {
        ids.variation_id = Some(id);
        ids.counter = counter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::parse_notification;

    fn flag(flag: &str, rule: &str, variation: &str, dispatched: Option<bool>) -> String {
        let d = match dispatched {
            Some(b) => format!(r#","decisionEventDispatched":{b}"#),
            None => String::new(),
        };
        format!(r#"{{"type":"flag","userId":"u","decisionInfo":{{"flagKey":"{flag}","ruleKey":"{rule}","variationKey":"{variation}","enabled":true{d}}}}}"#)
    }

    /// Classifies a `flag` notification built from the arguments.
    fn run<'d>(idx: Option<&'d DatafileIndex>, cfg: &Config, f: &str, rule: &str, variation: &str, dispatched: Option<bool>) -> Classification<'d> {
        classify(&parse_notification(&flag(f, rule, variation, dispatched)).unwrap(), idx, cfg)
    }

    fn exposure<'d>(c: Classification<'d>) -> ExposureIds<'d> {
        match c {
            Classification::Exposure(ids) => ids,
            other => panic!("not an exposure: {other:?}"),
        }
    }

    #[test]
    fn per_flag_rules_with_datafile() {
        let idx = DatafileIndex::parse(include_str!("../tests/data/datafile-repeated-rule-keys.json")).unwrap();
        let cfg = Config::default();
        let a = flag("flag_a", "shared_rule", "a_treatment", Some(true));
        let ids = exposure(classify(&parse_notification(&a).unwrap(), Some(&idx), &cfg));
        assert_eq!(
            (ids.flag_key, ids.experiment_id, ids.variation_id, ids.rule_type, ids.experiment_type),
            (Some("flag_a"), Some("2101"), Some("5102"), Some(RuleType::Experiment), None)
        );
        assert!(ids.counter.is_some());
        // Same rule key, other flag: a delivery rule. Dispatched=true (sendFlagDecisions) changes nothing.
        let b = flag("flag_b", "shared_rule", "on", Some(true));
        assert!(matches!(classify(&parse_notification(&b).unwrap(), Some(&idx), &cfg), Classification::Skip(_)));
        let with_rollouts = Config { include_rollouts: true, ..Config::default() };
        let ids = exposure(classify(&parse_notification(&b).unwrap(), Some(&idx), &with_rollouts));
        assert_eq!(ids.rule_type, Some(RuleType::Rollout));
        // Mutex group experiment.
        let c = flag("flag_c", "mutex_c", "c_control", None);
        assert!(matches!(classify(&parse_notification(&c).unwrap(), Some(&idx), &cfg), Classification::Exposure(_)));
        // Known flag, rule the datafile does not list: it may lag the SDK.
        let h = flag("flag_a", "ho_1", "off", Some(true));
        assert_eq!(classify(&parse_notification(&h).unwrap(), Some(&idx), &cfg), Classification::Unlisted);
        // ... unless it cannot be an exposure whatever the rule is.
        let off = flag("flag_a", "ho_1", "off", Some(false));
        assert!(matches!(classify(&parse_notification(&off).unwrap(), Some(&idx), &cfg), Classification::Skip(_)));
        assert_eq!(classify(&parse_notification(&off).unwrap(), Some(&idx), &with_rollouts), Classification::Unlisted);
        // A flag the datafile does not know yet: the same.
        let n = flag("new_flag", "r", "v", None);
        assert_eq!(classify(&parse_notification(&n).unwrap(), Some(&idx), &cfg), Classification::Unlisted);
        // Without a datafile: rule 3, kind unknown.
        let ids = exposure(classify(&parse_notification(&n).unwrap(), None, &cfg));
        assert_eq!((ids.rule_type, ids.experiment_id, ids.counter.is_none()), (None, None, true));
    }

    #[test]
    fn holdouts_are_exposures_with_their_ids_unless_turned_off() {
        let idx = DatafileIndex::parse(include_str!("../tests/data/datafile-holdouts.json")).unwrap();
        let cfg = Config::default();
        let ids = exposure(run(Some(&idx), &cfg, "checkout_flow", "global_holdout", "off", Some(true)));
        assert_eq!(
            (ids.experiment_id, ids.variation_id, ids.rule_type, ids.experiment_type),
            (Some("8001"), Some("8101"), Some(RuleType::Holdout), None)
        );
        // On the flag the holdout excludes too (an SDK that ignores excludedFlags decided it).
        assert_eq!(exposure(run(Some(&idx), &cfg, "search_flow", "global_holdout", "off", None)).rule_type, Some(RuleType::Holdout));
        assert_eq!(exposure(run(Some(&idx), &cfg, "checkout_flow", "local_holdout", "off", Some(true))).experiment_id, Some("8002"));
        // DISABLE_DECISION_EVENT applies to holdouts as to experiments.
        assert!(matches!(run(Some(&idx), &cfg, "checkout_flow", "global_holdout", "off", Some(false)), Classification::Skip(_)));
        let no = Config { include_holdouts: false, ..Config::default() };
        assert!(matches!(run(Some(&idx), &no, "checkout_flow", "global_holdout", "off", Some(true)), Classification::Skip(_)));
        // A holdout that is not Running is not indexed: the datafile lags the SDK.
        assert_eq!(run(Some(&idx), &cfg, "checkout_flow", "draft_holdout", "off", Some(true)), Classification::Unlisted);
        // Legacy feature notifications that say `holdout` (Go, Java).
        let legacy = r#"{"type":"feature","userId":"u","decisionInfo":{"featureKey":"checkout_flow","featureEnabled":false,"source":"holdout","sourceInfo":{"experimentKey":"global_holdout","variationKey":"off"}}}"#;
        let ids = exposure(classify(&parse_notification(legacy).unwrap(), None, &cfg));
        assert_eq!(ids.rule_type, Some(RuleType::Holdout));
    }

    #[test]
    fn experiment_types_feature_rollout_and_forced_variations() {
        let idx = DatafileIndex::parse(include_str!("../tests/data/datafile-holdouts.json")).unwrap();
        let cfg = Config::default();
        let ids = exposure(run(Some(&idx), &cfg, "search_flow", "search_fr", "off", Some(true)));
        assert_eq!((ids.variation_id, ids.experiment_type, ids.rule_type), (Some("7202"), Some("fr"), Some(RuleType::Experiment)));
        assert_eq!(exposure(run(Some(&idx), &cfg, "banner_flow", "banner_td", "on", Some(true))).experiment_type, Some("td"));
        assert_eq!(exposure(run(Some(&idx), &cfg, "promo_b", "promo_b_test", "b_control", Some(true))).experiment_type, Some("mab"));
        // Forced to a variation of another rule of the flag: the flag's variation id, no slot.
        let ids = exposure(run(Some(&idx), &cfg, "checkout_flow", "checkout_ab", "on", Some(true)));
        assert_eq!((ids.experiment_id, ids.variation_id, ids.counter.is_none()), (Some("2001"), Some("7001"), true));
    }

    #[test]
    fn disabled_decision_event_is_not_an_exposure_unless_configured() {
        let cfg = Config::default();
        let off = flag("f", "r", "v", Some(false));
        assert!(matches!(classify(&parse_notification(&off).unwrap(), None, &cfg), Classification::Skip(_)));
        let keep = Config { honor_disable_decision_event: false, ..Config::default() };
        assert!(matches!(classify(&parse_notification(&off).unwrap(), None, &keep), Classification::Exposure(_)));
        let none = flag("f", "", "v", None);
        assert!(matches!(classify(&parse_notification(&none).unwrap(), None, &cfg), Classification::Skip(_)));
    }
}
