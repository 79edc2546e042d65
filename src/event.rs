//! Event mapping: decision + classification -> the serialized "Experiment Viewed" track message
//! (DESIGN §4), and validation/completion of arbitrary Segment messages for `flagwire_enqueue`.
//! Messages are serialized once, on the caller's thread, so their exact size is known at the call
//! and the sender only concatenates bytes.

use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::classify::ExposureIds;
use crate::config::{Config, PropertyStyle};
use crate::decision::Decision;

const LIBRARY_CONTEXT: &str = concat!(r#"{"library":{"name":"flagwire","version":""#, env!("CARGO_PKG_VERSION"), r#""}}"#);

/// ISO-8601 UTC with milliseconds, e.g. `2026-11-21T10:00:00.123Z` (24 bytes).
pub fn format_timestamp(at: SystemTime, out: &mut Vec<u8>) {
    let t = time::OffsetDateTime::from(at);
    let (year, month, day) = (t.year(), t.month() as u8, t.day());
    let ms = t.millisecond();
    let mut buf = [0u8; 24];
    fn put(buf: &mut [u8], mut v: u32) {
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    put(&mut buf[0..4], year.clamp(0, 9999) as u32);
    buf[4] = b'-';
    put(&mut buf[5..7], month as u32);
    buf[7] = b'-';
    put(&mut buf[8..10], day as u32);
    buf[10] = b'T';
    put(&mut buf[11..13], t.hour() as u32);
    buf[13] = b':';
    put(&mut buf[14..16], t.minute() as u32);
    buf[16] = b':';
    put(&mut buf[17..19], t.second() as u32);
    buf[19] = b'.';
    put(&mut buf[20..23], ms as u32);
    buf[23] = b'Z';
    out.extend_from_slice(&buf);
}

pub fn timestamp_string(at: SystemTime) -> String {
    let mut v = Vec::with_capacity(24);
    format_timestamp(at, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

fn new_message_id(out: &mut Vec<u8>) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf).as_bytes());
}

/// JSON string literal with escaping.
fn put_str(out: &mut Vec<u8>, s: &str) {
    // Fast path: nothing to escape (the common case for keys and ids).
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

fn put_key(out: &mut Vec<u8>, first: &mut bool, key: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn put_str_field(out: &mut Vec<u8>, first: &mut bool, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        put_key(out, first, key);
        put_str(out, v);
    }
}

/// Serializes one Experiment Viewed track message.
pub fn experiment_viewed(d: &Decision<'_>, ids: &ExposureIds<'_>, config: &Config, at: SystemTime) -> Vec<u8> {
    let flag_key = d.flag_key.as_deref().or(ids.flag_key);
    let rule_key = d.rule_key.as_deref();
    let variation_key = d.variation_key.as_deref();
    let experiment_id = d.experiment_id.as_deref().or(ids.experiment_id);
    let variation_id = d.variation_id.as_deref().or(ids.variation_id);
    let attributes = if config.include_attributes { d.attributes } else { None };

    let estimate = 330
        + config.event_name.len()
        + 2 * d.user_id.len()
        + flag_key.map_or(0, str::len)
        + 2 * (rule_key.map_or(0, str::len) + variation_key.map_or(0, str::len))
        + attributes.map_or(0, str::len);
    let mut out = Vec::with_capacity(estimate);
    out.extend_from_slice(br#"{"type":"track","event":"#);
    put_str(&mut out, &config.event_name);
    out.extend_from_slice(b",\"");
    out.extend_from_slice(config.user_id_field.key().as_bytes());
    out.extend_from_slice(b"\":");
    put_str(&mut out, &d.user_id);
    out.extend_from_slice(br#","properties":{"#);

    let mut first = true;
    let camel = config.property_style != PropertyStyle::Segment;
    let snake = config.property_style != PropertyStyle::Optimizely;
    if camel {
        put_str_field(&mut out, &mut first, "flagKey", flag_key);
        put_str_field(&mut out, &mut first, "ruleKey", rule_key);
        put_str_field(&mut out, &mut first, "variationKey", variation_key);
        if let Some(enabled) = d.enabled {
            put_key(&mut out, &mut first, "enabled");
            out.extend_from_slice(if enabled { b"true" } else { b"false" });
        }
        put_str_field(&mut out, &mut first, "optimizelyUserId", Some(&d.user_id));
    }
    if let Some(attrs) = attributes {
        put_key(&mut out, &mut first, "userAttributes");
        out.extend_from_slice(attrs.as_bytes());
    }
    if snake {
        put_str_field(&mut out, &mut first, "experiment_id", experiment_id);
        put_str_field(&mut out, &mut first, "experiment_name", rule_key);
        put_str_field(&mut out, &mut first, "variation_id", variation_id);
        put_str_field(&mut out, &mut first, "variation_name", variation_key);
    } else {
        put_str_field(&mut out, &mut first, "experimentId", experiment_id);
        put_str_field(&mut out, &mut first, "variationId", variation_id);
    }
    out.extend_from_slice(br#"},"context":"#);
    out.extend_from_slice(LIBRARY_CONTEXT.as_bytes());
    out.extend_from_slice(br#","timestamp":""#);
    format_timestamp(at, &mut out);
    out.extend_from_slice(br#"","messageId":""#);
    new_message_id(&mut out);
    out.extend_from_slice(b"\"}");
    out
}

/// Validates a Segment message as Segment's libraries do and fills `messageId`, `timestamp` and
/// `context.library` when absent. Returns the serialized message.
pub fn complete_message(json: &str, at: SystemTime) -> Result<Vec<u8>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("message: {e}"))?;
    let Value::Object(mut msg) = value else {
        return Err("message must be a JSON object".to_string());
    };
    let kind = match msg.get("type") {
        Some(Value::String(t)) => t.clone(),
        _ => return Err("message: `type` is missing (track, identify, page, screen, group or alias)".into()),
    };
    let required: Option<&str> = match kind.as_str() {
        "track" => Some("event"),
        "group" => Some("groupId"),
        "alias" => Some("previousId"),
        "identify" | "page" | "screen" => None,
        other => return Err(format!("message: unknown `type` {other:?}")),
    };
    let has_id = |msg: &Map<String, Value>, key: &str| matches!(msg.get(key), Some(Value::String(s)) if !s.is_empty());
    if !has_id(&msg, "userId") && !has_id(&msg, "anonymousId") {
        return Err("message: needs a non-empty `userId` or `anonymousId`".into());
    }
    if let Some(key) = required {
        if !has_id(&msg, key) {
            return Err(format!("message: `{key}` is required for {kind}"));
        }
    }
    for key in ["properties", "traits", "context", "integrations"] {
        if let Some(v) = msg.get(key) {
            if !v.is_object() {
                return Err(format!("message: `{key}` must be an object"));
            }
        }
    }
    if !has_id(&msg, "messageId") {
        msg.insert("messageId".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    }
    if !has_id(&msg, "timestamp") {
        msg.insert("timestamp".into(), Value::String(timestamp_string(at)));
    }
    let context = msg.entry("context").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(ctx) = context {
        ctx.entry("library").or_insert_with(|| serde_json::json!({"name": "flagwire", "version": crate::VERSION}));
    }
    serde_json::to_vec(&msg).map_err(|e| format!("message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{classify, Classification};
    use crate::decision::parse_notification;
    use std::time::Duration;

    #[test]
    fn timestamp_format() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_255_200_123);
        assert_eq!(timestamp_string(at), "2026-11-21T10:00:00.123Z");
    }

    #[test]
    fn design_example_shape() {
        let n = r#"{"type":"flag","userId":"user-123","attributes":{"plan":"premium"},"decisionInfo":{"flagKey":"checkout_flow","ruleKey":"checkout_ab","variationKey":"treatment","enabled":true,"experimentId":"2001","variationId":"5002","decisionEventDispatched":true}}"#;
        let d = parse_notification(n).unwrap();
        let cfg = Config::default();
        let Classification::Exposure(ids) = classify(&d, None, &cfg) else { panic!() };
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_255_200_123);
        let bytes = experiment_viewed(&d, &ids, &cfg, at);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let mut expected: Value = serde_json::from_str(r#"{"type":"track","event":"Experiment Viewed","userId":"user-123",
 "properties":{"flagKey":"checkout_flow","ruleKey":"checkout_ab","variationKey":"treatment",
   "enabled":true,"optimizelyUserId":"user-123","userAttributes":{"plan":"premium"},
   "experiment_id":"2001","experiment_name":"checkout_ab","variation_id":"5002","variation_name":"treatment"},
 "context":{"library":{"name":"flagwire","version":"0.1.0"}},
 "timestamp":"2026-11-21T10:00:00.123Z","messageId":"x"}"#).unwrap();
        expected["messageId"] = v["messageId"].clone();
        assert_eq!(v, expected);
        assert_eq!(uuid::Uuid::parse_str(v["messageId"].as_str().unwrap()).unwrap().get_version_num(), 4);
    }

    #[test]
    fn escaping_round_trips() {
        let n = r#"{"type":"flag","userId":"u\"1\n\u0001é","decisionInfo":{"flagKey":"f\\k","ruleKey":"r","variationKey":"v"}}"#;
        let d = parse_notification(n).unwrap();
        let bytes = experiment_viewed(&d, &ExposureIds::default(), &Config::default(), SystemTime::now());
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["userId"], "u\"1\n\u{1}é");
        assert_eq!(v["properties"]["flagKey"], "f\\k");
    }

    #[test]
    fn enqueue_validation() {
        let now = SystemTime::now();
        assert!(complete_message(r#"{"type":"track","userId":"u"}"#, now).unwrap_err().contains("event"));
        assert!(complete_message(r#"{"type":"track","event":"E"}"#, now).unwrap_err().contains("userId"));
        assert!(complete_message(r#"{"type":"group","userId":"u"}"#, now).unwrap_err().contains("groupId"));
        assert!(complete_message(r#"{"type":"alias","userId":"u"}"#, now).unwrap_err().contains("previousId"));
        assert!(complete_message(r#"{"type":"boom","userId":"u"}"#, now).is_err());
        let ok = complete_message(r#"{"type":"identify","anonymousId":"a","traits":{"plan":"pro"}}"#, now).unwrap();
        let v: Value = serde_json::from_slice(&ok).unwrap();
        assert_eq!(v["context"]["library"]["name"], "flagwire");
        assert!(v["messageId"].is_string() && v["timestamp"].is_string());
        let keep = complete_message(r#"{"type":"track","userId":"u","event":"E","messageId":"m1","timestamp":"2020-01-01T00:00:00.000Z"}"#, now).unwrap();
        let v: Value = serde_json::from_slice(&keep).unwrap();
        assert_eq!((v["messageId"].as_str(), v["timestamp"].as_str()), (Some("m1"), Some("2020-01-01T00:00:00.000Z")));
    }
}
