//! Decision normalization: every SDK's DECISION notification (docs/design.md §4), in camelCase (Go, Java,
//! JS) or snake_case (Ruby, Python) keys, becomes one borrowed `Decision`. Strings are borrowed
//! from the input wherever JSON escaping allows, so the hot path copies nothing here.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Which notification family a decision came from; it decides the classification rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionType {
    /// `decide` API (`type: "flag"`).
    Flag,
    /// Legacy `isFeatureEnabled` (`type: "feature"`).
    Feature,
    /// Legacy variable getters (`feature-variable`, `all-feature-variables`): Optimizely sends no
    /// impression for these.
    FeatureVariable,
    /// Legacy `activate` / `getVariation` (`ab-test`, `feature-test`).
    Experiment,
}

impl DecisionType {
    pub fn parse(kind: &str) -> Option<DecisionType> {
        Some(match kind {
            "flag" => DecisionType::Flag,
            "feature" => DecisionType::Feature,
            "feature-variable" | "all-feature-variables" => DecisionType::FeatureVariable,
            "ab-test" | "feature-test" => DecisionType::Experiment,
            _ => return None,
        })
    }
}

/// One decision, whatever SDK it came from. Empty strings are normalized to `None`
/// (Go uses "" where Java/Ruby use null).
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub decision_type: DecisionType,
    pub user_id: Cow<'a, str>,
    /// The user attributes as JSON object text, `None` when absent, null or empty.
    pub attributes: Option<&'a str>,
    pub flag_key: Option<Cow<'a, str>>,
    pub rule_key: Option<Cow<'a, str>>,
    pub variation_key: Option<Cow<'a, str>>,
    pub enabled: Option<bool>,
    pub experiment_id: Option<Cow<'a, str>>,
    pub variation_id: Option<Cow<'a, str>>,
    /// `None` when the SDK did not say (older SDKs, legacy types, or -1 from the fast path).
    pub decision_event_dispatched: Option<bool>,
    /// Legacy feature decisions: `feature-test`, `rollout`, `holdout` or empty.
    pub source: Option<Cow<'a, str>>,
}

#[derive(Debug)]
pub enum DecodeError {
    /// Not JSON, or JSON of the wrong shape; the text says what was wrong.
    Invalid(String),
    /// A well-formed notification of a type flagwire does not handle.
    UnknownType(String),
}

#[derive(Deserialize)]
struct RawNotification<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "userId", alias = "user_id", borrow, default, deserialize_with = "borrowed_text")]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    attributes: Option<&'a RawValue>,
    #[serde(rename = "decisionInfo", alias = "decision_info", borrow, default)]
    decision_info: Option<RawInfo<'a>>,
}

#[derive(Deserialize, Default)]
struct RawInfo<'a> {
    #[serde(rename = "flagKey", alias = "flag_key", borrow, default, deserialize_with = "borrowed_text")]
    flag_key: Option<Cow<'a, str>>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(rename = "variationKey", alias = "variation_key", borrow, default, deserialize_with = "borrowed_text")]
    variation_key: Option<Cow<'a, str>>,
    #[serde(rename = "ruleKey", alias = "rule_key", borrow, default, deserialize_with = "borrowed_text")]
    rule_key: Option<Cow<'a, str>>,
    #[serde(rename = "experimentId", alias = "experiment_id", borrow, default, deserialize_with = "borrowed_text")]
    experiment_id: Option<Cow<'a, str>>,
    #[serde(rename = "variationId", alias = "variation_id", borrow, default, deserialize_with = "borrowed_text")]
    variation_id: Option<Cow<'a, str>>,
    #[serde(rename = "decisionEventDispatched", alias = "decision_event_dispatched", default)]
    decision_event_dispatched: Option<bool>,
    #[serde(rename = "featureKey", alias = "feature_key", borrow, default, deserialize_with = "borrowed_text")]
    feature_key: Option<Cow<'a, str>>,
    #[serde(rename = "featureEnabled", alias = "feature_enabled", default)]
    feature_enabled: Option<bool>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    source: Option<Cow<'a, str>>,
    #[serde(rename = "sourceInfo", alias = "source_info", borrow, default)]
    source_info: Option<RawSourceInfo<'a>>,
    #[serde(rename = "experimentKey", alias = "experiment_key", borrow, default, deserialize_with = "borrowed_text")]
    experiment_key: Option<Cow<'a, str>>,
    /// Go nests legacy feature decisions under `decisionInfo["feature"]`.
    #[serde(borrow, default)]
    feature: Option<Box<RawInfo<'a>>>,
}

#[derive(Deserialize, Default)]
struct RawSourceInfo<'a> {
    #[serde(rename = "experimentKey", alias = "experiment_key", borrow, default, deserialize_with = "borrowed_text")]
    experiment_key: Option<Cow<'a, str>>,
    #[serde(rename = "variationKey", alias = "variation_key", borrow, default, deserialize_with = "borrowed_text")]
    variation_key: Option<Cow<'a, str>>,
}

/// An optional string borrowed from the input unless it has escapes. serde's `borrow` reaches
/// only a bare `Cow` field; through an `Option` it silently copies every string.
fn borrowed_text<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

fn non_empty<'a>(s: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    s.filter(|s| !s.is_empty())
}

/// `None` for absent, `null` or `{}` attributes; an error when they are not an object.
pub fn attributes_text(raw: Option<&RawValue>) -> Result<Option<&str>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    if text == "null" {
        return Ok(None);
    }
    if !text.starts_with('{') {
        return Err("`attributes` must be a JSON object".to_string());
    }
    let inner = text[1..text.len() - 1].trim();
    Ok(if inner.is_empty() { None } else { Some(text) })
}

/// Parses a whole notification (`flagwire_on_decision`).
pub fn parse_notification(json: &str) -> Result<Decision<'_>, DecodeError> {
    if !json.trim_start().starts_with('{') {
        return Err(DecodeError::Invalid("notification: must be a JSON object".into()));
    }
    let raw: RawNotification<'_> =
        serde_json::from_str(json).map_err(|e| DecodeError::Invalid(format!("notification: {e}")))?;
    let decision_type =
        DecisionType::parse(&raw.kind).ok_or_else(|| DecodeError::UnknownType(raw.kind.to_string()))?;
    let user_id = non_empty(raw.user_id)
        .ok_or_else(|| DecodeError::Invalid("notification: `userId` / `user_id` is missing or empty".into()))?;
    let attributes = attributes_text(raw.attributes).map_err(DecodeError::Invalid)?;
    let info = raw
        .decision_info
        .ok_or_else(|| DecodeError::Invalid("notification: `decisionInfo` / `decision_info` is missing".into()))?;

    let decision = match decision_type {
        DecisionType::Flag => {
            let flag_key = non_empty(info.flag_key)
                .ok_or_else(|| DecodeError::Invalid("notification: `flagKey` / `flag_key` is missing".into()))?;
            Decision {
                decision_type,
                user_id,
                attributes,
                flag_key: Some(flag_key),
                rule_key: non_empty(info.rule_key),
                variation_key: non_empty(info.variation_key),
                enabled: info.enabled,
                experiment_id: non_empty(info.experiment_id),
                variation_id: non_empty(info.variation_id),
                decision_event_dispatched: info.decision_event_dispatched,
                source: None,
            }
        }
        DecisionType::Feature | DecisionType::FeatureVariable => {
            let info = match info.feature {
                Some(nested) => *nested,
                None => info,
            };
            let feature_key = non_empty(info.feature_key)
                .ok_or_else(|| DecodeError::Invalid("notification: `featureKey` / `feature_key` is missing".into()))?;
            let source_info = info.source_info.unwrap_or_default();
            Decision {
                decision_type,
                user_id,
                attributes,
                flag_key: Some(feature_key),
                rule_key: non_empty(source_info.experiment_key),
                variation_key: non_empty(source_info.variation_key),
                enabled: info.feature_enabled,
                experiment_id: None,
                variation_id: None,
                decision_event_dispatched: None,
                source: non_empty(info.source),
            }
        }
        DecisionType::Experiment => {
            let experiment_key = non_empty(info.experiment_key).ok_or_else(|| {
                DecodeError::Invalid("notification: `experimentKey` / `experiment_key` is missing".into())
            })?;
            Decision {
                decision_type,
                user_id,
                attributes,
                flag_key: None,
                rule_key: Some(experiment_key),
                variation_key: non_empty(info.variation_key),
                enabled: None,
                experiment_id: None,
                variation_id: None,
                decision_event_dispatched: None,
                source: None,
            }
        }
    };
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module's promise (strings borrowed from the input unless escaped): serde's `borrow`
    /// does not reach through `Option<Cow>`, which silently allocated every key.
    #[test]
    fn strings_without_escapes_are_borrowed() {
        let go = r#"{"type":"feature","userId":"u1","decisionInfo":{"feature":{"featureKey":"f","featureEnabled":true,"source":"feature-test","sourceInfo":{"experimentKey":"e","variationKey":"v"}}}}"#;
        let java = r#"{"type":"flag","userId":"u1","decisionInfo":{"flagKey":"f","ruleKey":"r","variationKey":"v","experimentId":"1","variationId":"2","enabled":true}}"#;
        for json in [go, java] {
            let d = parse_notification(json).unwrap();
            let fields = [Some(&d.user_id), d.flag_key.as_ref(), d.rule_key.as_ref(), d.variation_key.as_ref()];
            for f in fields.into_iter().flatten() {
                assert!(matches!(f, Cow::Borrowed(_)), "{json}: {f:?} was copied");
            }
        }
        let escaped = parse_notification(r#"{"type":"flag","userId":"u\u00e9","decisionInfo":{"flagKey":"f"}}"#).unwrap();
        assert_eq!(escaped.user_id, "u\u{e9}");
    }

    #[test]
    fn flag_camel_and_snake() {
        let java = r#"{"type":"flag","userId":"user0","attributes":{"plan":"pro"},"decisionInfo":{"variables":{"button_color":"gray"},"reasons":[],"variationId":"5001","decisionEventDispatched":true,"experimentId":"2001","variationKey":"control","ruleKey":"checkout_ab","flagKey":"checkout_flow","enabled":false}}"#;
        let d = parse_notification(java).unwrap();
        assert_eq!(d.flag_key.as_deref(), Some("checkout_flow"));
        assert_eq!(d.rule_key.as_deref(), Some("checkout_ab"));
        assert_eq!(d.experiment_id.as_deref(), Some("2001"));
        assert_eq!(d.attributes, Some(r#"{"plan":"pro"}"#));
        assert_eq!(d.decision_event_dispatched, Some(true));
        let ruby = r#"{"type":"flag","user_id":"user3","attributes":{},"decision_info":{"flag_key":"checkout_flow","enabled":true,"variables":{},"variation_key":"on","rule_key":"checkout_delivery","reasons":[],"decision_event_dispatched":false,"experiment_id":"6001","variation_id":"7001"}}"#;
        let d = parse_notification(ruby).unwrap();
        assert_eq!(d.user_id, "user3");
        assert_eq!(d.attributes, None);
        assert_eq!(d.variation_key.as_deref(), Some("on"));
        assert_eq!(d.decision_event_dispatched, Some(false));
    }

    #[test]
    fn legacy_shapes() {
        let go = r#"{"type":"feature","userId":"u","decisionInfo":{"feature":{"featureKey":"f","featureEnabled":true,"source":"feature-test","sourceInfo":{"experimentKey":"e","variationKey":"v"}}}}"#;
        let d = parse_notification(go).unwrap();
        assert_eq!((d.flag_key.as_deref(), d.rule_key.as_deref(), d.source.as_deref()), (Some("f"), Some("e"), Some("feature-test")));
        let ruby = r#"{"type":"feature","user_id":"u","decision_info":{"feature_key":"f","feature_enabled":false,"source":"rollout","source_info":{}}}"#;
        let d = parse_notification(ruby).unwrap();
        assert_eq!(d.rule_key, None);
        assert_eq!(d.source.as_deref(), Some("rollout"));
        let ab = r#"{"type":"ab-test","userId":"u","decisionInfo":{"experimentKey":"e","variationKey":"v"}}"#;
        assert_eq!(parse_notification(ab).unwrap().decision_type, DecisionType::Experiment);
    }

    #[test]
    fn bad_shapes() {
        assert!(matches!(parse_notification("{"), Err(DecodeError::Invalid(_))));
        assert!(matches!(parse_notification("[]"), Err(DecodeError::Invalid(_))));
        assert!(matches!(parse_notification(r#"{"type":"track","userId":"u","decisionInfo":{}}"#), Err(DecodeError::UnknownType(_))));
        assert!(matches!(parse_notification(r#"{"type":"flag","decisionInfo":{"flagKey":"f"}}"#), Err(DecodeError::Invalid(_))));
        assert!(matches!(parse_notification(r#"{"type":"flag","userId":"u","attributes":[1],"decisionInfo":{"flagKey":"f"}}"#), Err(DecodeError::Invalid(_))));
        assert!(matches!(parse_notification(r#"{"type":"flag","userId":"u","decisionInfo":{"flagKey":7}}"#), Err(DecodeError::Invalid(_))));
    }
}
