//! Classification (DESIGN §4): is this decision an experiment exposure?
//! `decisionEventDispatched` is never the experiment marker; it only mirrors
//! `DISABLE_DECISION_EVENT` (rule 2).

use crate::config::Config;
use crate::datafile::{DatafileIndex, RuleKind};
use crate::decision::{Decision, DecisionType};

/// What the event needs beyond the decision itself, filled from the datafile when known.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExposureIds<'d> {
    pub flag_key: Option<&'d str>,
    pub experiment_id: Option<&'d str>,
    pub variation_id: Option<&'d str>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Classification<'d> {
    Exposure(ExposureIds<'d>),
    /// Not an exposure; the reason is for debug logs and `flagwire_last_error`.
    Skip(&'static str),
}

pub fn classify<'d>(d: &Decision<'_>, datafile: Option<&'d DatafileIndex>, config: &Config) -> Classification<'d> {
    let (Some(rule_key), Some(variation_key)) = (d.rule_key.as_deref(), d.variation_key.as_deref()) else {
        return Classification::Skip("no rule or no variation: not an exposure");
    };
    match d.decision_type {
        DecisionType::Feature | DecisionType::FeatureVariable => match d.source.as_deref() {
            Some("feature-test") => {}
            Some("rollout") if config.include_rollouts => {}
            Some("rollout") => return Classification::Skip("rollout decision"),
            _ => return Classification::Skip("legacy decision from no experiment"),
        },
        DecisionType::Flag | DecisionType::Experiment => {}
    }

    let mut ids = ExposureIds::default();
    let mut kind = RuleKind::Experiment; // rule 3 (no datafile): keys present = experiment
    if let Some(index) = datafile {
        let rule = match d.decision_type {
            DecisionType::Experiment => index.experiment_by_key(rule_key),
            _ => {
                let flag_key = d.flag_key.as_deref().unwrap_or("");
                let by_id = d.experiment_id.as_deref().and_then(|id| index.rule_by_id(id));
                match by_id.or_else(|| index.rule_in_flag(flag_key, rule_key)) {
                    Some(rule) => Some(rule),
                    // A rule the datafile does not list for a flag it knows: holdout or forced decision.
                    None if index.has_flag(flag_key) => {
                        return Classification::Skip("rule is not an experiment or delivery of this flag (holdout or forced)")
                    }
                    // A flag the datafile does not know yet (datafile pushed late): fall back to rule 3
                    // rather than lose an exposure.
                    None => None,
                }
            }
        };
        if let Some(rule) = rule {
            kind = rule.kind;
            ids.flag_key = rule.flag_key.as_deref();
            ids.experiment_id = Some(rule.id.as_str());
            ids.variation_id = rule.variations.get(variation_key).map(String::as_str);
        }
    } else if d.decision_type == DecisionType::Feature && d.source.as_deref() == Some("rollout") {
        kind = RuleKind::Delivery;
    }

    match kind {
        RuleKind::Experiment => {}
        RuleKind::Delivery if config.include_rollouts => return Classification::Exposure(ids),
        RuleKind::Delivery => return Classification::Skip("delivery (rollout) rule"),
        RuleKind::Holdout => return Classification::Skip("holdout"),
    }
    if config.honor_disable_decision_event {
        // Optimizely counts no impression for these, so neither do we (DESIGN §4 rule 2).
        if d.decision_event_dispatched == Some(false) {
            return Classification::Skip("decision event disabled (DISABLE_DECISION_EVENT): not counted by Optimizely");
        }
        if d.decision_type == DecisionType::FeatureVariable {
            return Classification::Skip("variable getter: Optimizely sends no impression for it");
        }
    }
    Classification::Exposure(ids)
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

    #[test]
    fn per_flag_rules_with_datafile() {
        let idx = DatafileIndex::parse(include_str!("../tests/data/datafile-repeated-rule-keys.json")).unwrap();
        let cfg = Config::default();
        let a = flag("flag_a", "shared_rule", "a_treatment", Some(true));
        let d = parse_notification(&a).unwrap();
        assert_eq!(
            classify(&d, Some(&idx), &cfg),
            Classification::Exposure(ExposureIds { flag_key: Some("flag_a"), experiment_id: Some("2101"), variation_id: Some("5102") })
        );
        // Same rule key, other flag: a delivery rule. Dispatched=true (sendFlagDecisions) changes nothing.
        let b = flag("flag_b", "shared_rule", "on", Some(true));
        assert!(matches!(classify(&parse_notification(&b).unwrap(), Some(&idx), &cfg), Classification::Skip(_)));
        let mut with_rollouts = Config::default();
        with_rollouts.include_rollouts = true;
        assert!(matches!(classify(&parse_notification(&b).unwrap(), Some(&idx), &with_rollouts), Classification::Exposure(_)));
        // Mutex group experiment.
        let c = flag("flag_c", "mutex_c", "c_control", None);
        assert!(matches!(classify(&parse_notification(&c).unwrap(), Some(&idx), &cfg), Classification::Exposure(_)));
        // Known flag, unknown rule (holdout / forced).
        let h = flag("flag_a", "ho_1", "off", Some(true));
        assert!(matches!(classify(&parse_notification(&h).unwrap(), Some(&idx), &cfg), Classification::Skip(_)));
        // Unknown flag: rule 3 fallback.
        let n = flag("new_flag", "r", "v", None);
        assert!(matches!(classify(&parse_notification(&n).unwrap(), Some(&idx), &cfg), Classification::Exposure(_)));
    }

    #[test]
    fn disabled_decision_event_is_not_an_exposure_unless_configured() {
        let cfg = Config::default();
        let off = flag("f", "r", "v", Some(false));
        assert!(matches!(classify(&parse_notification(&off).unwrap(), None, &cfg), Classification::Skip(_)));
        let mut keep = Config::default();
        keep.honor_disable_decision_event = false;
        assert!(matches!(classify(&parse_notification(&off).unwrap(), None, &keep), Classification::Exposure(_)));
        let none = flag("f", "", "v", None);
        assert!(matches!(classify(&parse_notification(&none).unwrap(), None, &cfg), Classification::Skip(_)));
    }
}
