//! Event mapping: decision + classification -> the serialized "Experiment Viewed" track message
//! (docs/design.md §4), and validation/completion of arbitrary Segment messages for `flagwire_enqueue`.
//! Messages are serialized once, on the caller's thread, so their exact size is known at the call
//! and the sender only concatenates bytes.

use std::time::SystemTime;

use crate::classify::{ExposureIds, RuleType};
use crate::config::{Config, PropertyStyle, UserIdField};
use crate::decision::Decision;
use crate::strict_json;

const LIBRARY_CONTEXT: &str = concat!(r#"{"library":{"name":"flagwire","version":""#, env!("CARGO_PKG_VERSION"), r#""}}"#);

pub(crate) const TIMESTAMP_LEN: usize = 24;

/// ISO-8601 UTC with milliseconds, e.g. `2026-11-21T10:00:00.123Z` (24 bytes).
pub fn format_timestamp(at: SystemTime, out: &mut Vec<u8>) {
    let ms = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    };
    format_timestamp_ms(ms, out);
}

/// The calendar part is cached per thread for the current second: the sender formats thousands
/// of timestamps per second, nearly all in the same second.
pub fn format_timestamp_ms(at_ms: i64, out: &mut Vec<u8>) {
    use std::cell::Cell;
    thread_local! {
        static SECOND: Cell<(i64, [u8; 20])> = const { Cell::new((i64::MIN, [0; 20])) };
    }
    let (secs, ms) = (at_ms.div_euclid(1000), at_ms.rem_euclid(1000) as u32);
    let prefix = SECOND.with(|cache| {
        let (cached, prefix) = cache.get();
        if cached == secs {
            return prefix;
        }
        let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let mut p = [0u8; 20];
        put_digits(&mut p[0..4], t.year().clamp(0, 9999) as u32);
        p[4] = b'-';
        put_digits(&mut p[5..7], t.month() as u32);
        p[7] = b'-';
        put_digits(&mut p[8..10], t.day() as u32);
        p[10] = b'T';
        put_digits(&mut p[11..13], t.hour() as u32);
        p[13] = b':';
        put_digits(&mut p[14..16], t.minute() as u32);
        p[16] = b':';
        put_digits(&mut p[17..19], t.second() as u32);
        p[19] = b'.';
        cache.set((secs, p));
        p
    });
    out.extend_from_slice(&prefix);
    let mut tail = [0u8; 4];
    put_digits(&mut tail[0..3], ms);
    tail[3] = b'Z';
    out.extend_from_slice(&tail);
}

fn put_digits(buf: &mut [u8], mut v: u32) {
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[cfg(test)]
pub fn timestamp_string(at: SystemTime) -> String {
    let mut v = Vec::with_capacity(24);
    format_timestamp(at, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

fn new_message_id(out: &mut Vec<u8>) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(crate::ids::uuid_v4().hyphenated().encode_lower(&mut buf).as_bytes());
}

/// The exposure's messageId when `dedupe.derive_message_ids` is on: a UUID v5 over (source,
/// user, flag, rule, variation, dedupe window start). Every process of a fleet sending the same
/// first exposure in the same window derives the same id, and Segment keeps one of them (it
/// collapses repeated messageIds over about 24 hours). Strings are length-prefixed: NUL bytes and
/// separators inside them cannot make two exposures collide.
pub(crate) fn derived_message_id(namespace: &uuid::Uuid, fields: [&str; 4], at_ms: i64, window_ms: u64) -> uuid::Uuid {
    let window = window_ms.max(1) as i64;
    let window_start = at_ms.div_euclid(window) * window;
    let mut name = Vec::with_capacity(64);
    for f in fields {
        name.extend_from_slice(&(f.len() as u32).to_le_bytes());
        name.extend_from_slice(f.as_bytes());
    }
    name.extend_from_slice(&window_start.to_le_bytes());
    uuid::Uuid::new_v5(namespace, &name)
}

/// True when `s` holds a byte JSON must escape (`"`, `\\`, or a control byte). Eight bytes at a
/// time (SWAR), since every string of every event goes through it on the caller's thread.
fn needs_escape(s: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Bytes < 0x20 (high bit clear and x - 0x20 borrows), or equal to '"' or '\\'.
        let control = x.wrapping_sub(LO * 0x20) & !x & HI;
        if control | has_zero(x ^ (LO * b'"' as u64)) | has_zero(x ^ (LO * b'\\' as u64)) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Serialized length of `s` as a JSON string literal, quotes included, exactly as serde_json
/// escapes it (`\\n`-style for five controls, `\\u00XX` for the others).
fn escaped_len(s: &str) -> usize {
    if !needs_escape(s.as_bytes()) {
        return s.len() + 2;
    }
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
        + 2
}

/// Where a message is serialized to: the exact byte count at the call (for the 32,000-byte limit
/// and the queue's byte bound), the bytes themselves in the sender. One writer drives both, so the
/// count cannot drift from the output.
trait Sink {
    fn raw(&mut self, bytes: &[u8]);
    fn string(&mut self, s: &str);
    /// One of the packed exposure's strings, whose escaped length was measured once when packed.
    fn field(&mut self, packed: &PackedExposure, i: usize);
    fn timestamp(&mut self, at_ms: i64);
    fn message_id(&mut self, packed: &PackedExposure, config: &Config);
}

struct Counter(usize);

impl Sink for Counter {
    fn raw(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
    fn string(&mut self, s: &str) {
        self.0 += escaped_len(s);
    }
    fn field(&mut self, packed: &PackedExposure, i: usize) {
        self.0 += packed.escaped_len(i);
    }
    fn timestamp(&mut self, _: i64) {
        self.0 += TIMESTAMP_LEN;
    }
    fn message_id(&mut self, _: &PackedExposure, _: &Config) {
        self.0 += uuid::fmt::Hyphenated::LENGTH;
    }
}

impl Sink for Vec<u8> {
    fn raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn string(&mut self, s: &str) {
        if needs_escape(s.as_bytes()) {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *self, s);
        } else {
            self.push(b'"');
            self.extend_from_slice(s.as_bytes());
            self.push(b'"');
        }
    }
    fn field(&mut self, packed: &PackedExposure, i: usize) {
        let value = packed.field(i).unwrap_or("");
        if i == ATTRIBUTES {
            self.extend_from_slice(value.as_bytes());
        } else if packed.escaped_len(i) == value.len() + 2 {
            self.push(b'"');
            self.extend_from_slice(value.as_bytes());
            self.push(b'"');
        } else {
            self.string(value);
        }
    }
    fn timestamp(&mut self, at_ms: i64) {
        format_timestamp_ms(at_ms, self);
    }
    fn message_id(&mut self, packed: &PackedExposure, config: &Config) {
        match (&config.message_id_namespace, &config.dedupe) {
            (Some(namespace), Some(dedupe)) => {
                let field = |i| packed.field(i).unwrap_or("");
                let fields = [field(USER_ID), field(FLAG_KEY), field(RULE_KEY), field(VARIATION_KEY)];
                let id = derived_message_id(namespace, fields, packed.at_ms(), dedupe.window_ms);
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                self.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
            }
            _ => new_message_id(self),
        }
    }
}

/// The fields of one exposure, captured on the caller's thread in a single allocation; the sender
/// serializes it. Layout: `[at_ms: i64][enabled: u8][present: u8][rule type: u8][ends: 8 x u32]
/// [escaped lengths: 8 x u32]` then the strings.
pub struct PackedExposure {
    data: Vec<u8>,
}

const FIELDS: usize = 8;
const RULE_TYPE: usize = 10;
const ENDS: usize = 11;
const ESCAPED: usize = ENDS + 4 * FIELDS;
const HEADER: usize = ESCAPED + 4 * FIELDS;
const USER_ID: usize = 0;
const FLAG_KEY: usize = 1;
const RULE_KEY: usize = 2;
const VARIATION_KEY: usize = 3;
const EXPERIMENT_ID: usize = 4;
const VARIATION_ID: usize = 5;
const ATTRIBUTES: usize = 6;
const EXPERIMENT_TYPE: usize = 7;

impl PackedExposure {
    /// `buffer` is a recycled allocation (or a new empty Vec); its contents are replaced.
    pub fn pack(d: &Decision<'_>, ids: &ExposureIds<'_>, config: &Config, at: SystemTime, buffer: Vec<u8>) -> PackedExposure {
        let fields: [Option<&str>; FIELDS] = [
            Some(&d.user_id),
            d.flag_key.as_deref().or(ids.flag_key),
            d.rule_key.as_deref(),
            d.variation_key.as_deref(),
            d.experiment_id.as_deref().or(ids.experiment_id),
            d.variation_id.as_deref().or(ids.variation_id),
            if config.include_attributes { d.attributes } else { None },
            ids.experiment_type,
        ];
        let at_ms = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(&at_ms.to_le_bytes());
        header[8] = match d.enabled {
            None => 2,
            Some(e) => e as u8,
        };
        let (mut end, mut present) = (0u32, 0u8);
        for (i, f) in fields.iter().enumerate() {
            let (len, escaped) = match f {
                None => (0, 0),
                // Attributes are embedded as JSON, not as a string.
                Some(v) if i == ATTRIBUTES => (v.len(), v.len()),
                Some(v) => (v.len(), escaped_len(v)),
            };
            present |= (f.is_some() as u8) << i;
            end += len as u32;
            header[ENDS + 4 * i..ENDS + 4 * i + 4].copy_from_slice(&end.to_le_bytes());
            header[ESCAPED + 4 * i..ESCAPED + 4 * i + 4].copy_from_slice(&(escaped as u32).to_le_bytes());
        }
        header[9] = present;
        header[RULE_TYPE] = match ids.rule_type {
            None => 0,
            Some(RuleType::Experiment) => 1,
            Some(RuleType::Holdout) => 2,
            Some(RuleType::Rollout) => 3,
        };
        let mut data = buffer;
        data.clear();
        data.reserve(HEADER + end as usize);
        data.extend_from_slice(&header);
        for f in fields.iter().flatten() {
            data.extend_from_slice(f.as_bytes());
        }
        PackedExposure { data }
    }

    /// Gives the allocation back for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.data
    }

    pub(crate) fn at_ms(&self) -> i64 {
        i64::from_le_bytes(self.data[..8].try_into().unwrap_or([0; 8]))
    }

    fn enabled(&self) -> Option<bool> {
        match self.data[8] {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn rule_type(&self) -> Option<RuleType> {
        match self.data[RULE_TYPE] {
            1 => Some(RuleType::Experiment),
            2 => Some(RuleType::Holdout),
            3 => Some(RuleType::Rollout),
            _ => None,
        }
    }

    fn has(&self, i: usize) -> bool {
        self.data[9] & (1 << i) != 0
    }

    fn field(&self, i: usize) -> Option<&str> {
        if !self.has(i) {
            return None;
        }
        let start = if i == 0 { 0 } else { self.u32_at(ENDS + 4 * (i - 1)) };
        let end = self.u32_at(ENDS + 4 * i);
        // Safety: the bytes between two offsets were copied from one `&str`.
        Some(unsafe { std::str::from_utf8_unchecked(&self.data[HEADER + start..HEADER + end]) })
    }

    fn u32_at(&self, at: usize) -> usize {
        u32::from_le_bytes(self.data[at..at + 4].try_into().unwrap_or([0; 4])) as usize
    }

    fn escaped_len(&self, i: usize) -> usize {
        self.u32_at(ESCAPED + 4 * i)
    }

    /// Exact serialized size, for the limits; computed on the caller's thread.
    pub fn serialized_len(&self, config: &Config) -> usize {
        let mut counter = Counter(0);
        self.write(config, &mut counter);
        counter.0
    }

    /// Serializes the Experiment Viewed track message (docs/design.md §4) into `out`.
    pub fn write_to(&self, config: &Config, out: &mut Vec<u8>) {
        self.write(config, out);
    }

    fn write<S: Sink>(&self, config: &Config, out: &mut S) {
        out.raw(br#"{"type":"track","event":"#);
        out.string(&config.event_name);
        out.raw(match config.user_id_field {
            UserIdField::UserId => br#","userId":"#,
            UserIdField::AnonymousId => br#","anonymousId":"#,
        });
        out.field(self, USER_ID);
        out.raw(br#","properties":{"#);
        let mut props = Properties { out: &mut *out, first: true };
        let style = config.property_style;
        if style != PropertyStyle::Segment {
            props.field(br#""flagKey":"#, self, FLAG_KEY);
            props.field(br#""ruleKey":"#, self, RULE_KEY);
            if let Some(rule_type) = self.rule_type() {
                let value: &[u8] = match rule_type {
                    RuleType::Experiment => br#""experiment""#,
                    RuleType::Holdout => br#""holdout""#,
                    RuleType::Rollout => br#""rollout""#,
                };
                props.raw(br#""ruleType":"#, value);
            }
            props.field(br#""experimentType":"#, self, EXPERIMENT_TYPE);
            props.field(br#""variationKey":"#, self, VARIATION_KEY);
            if let Some(enabled) = self.enabled() {
                props.raw(br#""enabled":"#, if enabled { b"true" } else { b"false" });
            }
            props.field(br#""optimizelyUserId":"#, self, USER_ID);
        }
        if self.has(ATTRIBUTES) {
            props.raw(br#""userAttributes":"#, b"");
            props.out.field(self, ATTRIBUTES);
        }
        if style == PropertyStyle::Optimizely {
            props.field(br#""experimentId":"#, self, EXPERIMENT_ID);
            props.field(br#""variationId":"#, self, VARIATION_ID);
        } else {
            props.field(br#""experiment_id":"#, self, EXPERIMENT_ID);
            props.field(br#""experiment_name":"#, self, RULE_KEY);
            props.field(br#""variation_id":"#, self, VARIATION_ID);
            props.field(br#""variation_name":"#, self, VARIATION_KEY);
        }
        out.raw(br#"},"context":"#);
        out.raw(LIBRARY_CONTEXT.as_bytes());
        out.raw(br#","timestamp":""#);
        out.timestamp(self.at_ms());
        out.raw(br#"","messageId":""#);
        out.message_id(self, config);
        out.raw(b"\"}");
    }
}

/// Writes the members of `properties`, with commas between them.
struct Properties<'a, S: Sink> {
    out: &'a mut S,
    first: bool,
}

impl<S: Sink> Properties<'_, S> {
    fn raw(&mut self, key: &[u8], value: &[u8]) {
        if !self.first {
            self.out.raw(b",");
        }
        self.first = false;
        self.out.raw(key);
        self.out.raw(value);
    }

    fn field(&mut self, key: &[u8], packed: &PackedExposure, i: usize) {
        if packed.has(i) {
            self.raw(key, b"");
            self.out.field(packed, i);
        }
    }
}

/// Serializes one Experiment Viewed track message (unit tests).
#[cfg(test)]
pub fn experiment_viewed(d: &Decision<'_>, ids: &ExposureIds<'_>, config: &Config, at: SystemTime) -> Vec<u8> {
    let packed = PackedExposure::pack(d, ids, config, at, Vec::new());
    let mut out = Vec::with_capacity(packed.serialized_len(config));
    packed.write_to(config, &mut out);
    out
}

/// Validates a Segment message as Segment's libraries do, and as strictly as Segment's API parses
/// it (`strict_json`), then fills `messageId`, `timestamp` and `context.library` when absent. The
/// user's values are copied as written (only whitespace between tokens is removed): nothing goes
/// through a double, so order ids and long decimals keep every digit.
pub fn complete_message(json: &str, at: SystemTime) -> Result<Vec<u8>, String> {
    let members = strict_json::object_members(json).map_err(|e| format!("message: {e}"))?;
    let get = |key: &str| members.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    let string = |key: &str| get(key).and_then(strict_json::string_value);
    let kind = string("type").ok_or("message: `type` is missing (track, identify, page, screen, group or alias)")?;
    let required: Option<&str> = match kind.as_ref() {
        "track" => Some("event"),
        "group" => Some("groupId"),
        "alias" => Some("previousId"),
        "identify" | "page" | "screen" => None,
        other => return Err(format!("message: unknown `type` {other:?}")),
    };
    let has_id = |key: &str| string(key).is_some_and(|s| !s.is_empty());
    if !has_id("userId") && !has_id("anonymousId") {
        return Err("message: needs a non-empty `userId` or `anonymousId`".into());
    }
    if let Some(key) = required {
        if !has_id(key) {
            return Err(format!("message: `{key}` is required for {kind}"));
        }
    }
    for key in ["properties", "traits", "context", "integrations"] {
        if get(key).is_some_and(|v| !v.starts_with('{')) {
            return Err(format!("message: `{key}` must be an object"));
        }
    }
    let (keep_id, keep_timestamp) = (has_id("messageId"), has_id("timestamp"));
    let library = &LIBRARY_CONTEXT[1..LIBRARY_CONTEXT.len() - 1];
    let mut out = Vec::with_capacity(json.len() + 160);
    out.push(b'{');
    for (key, value) in &members {
        if (key == "messageId" && !keep_id) || (key == "timestamp" && !keep_timestamp) {
            continue; // replaced below
        }
        if out.len() > 1 {
            out.push(b',');
        }
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, key.as_ref());
        out.push(b':');
        let context_start = out.len();
        strict_json::write_minified(value, &mut out);
        if key == "context" && !strict_json::object_members(value).is_ok_and(|m| m.iter().any(|(k, _)| k == "library")) {
            out.pop(); // the closing brace
            if out.len() > context_start + 1 {
                out.push(b',');
            }
            out.extend_from_slice(library.as_bytes());
            out.push(b'}');
        }
    }
    let member = |out: &mut Vec<u8>, key: &[u8]| {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(key);
    };
    if !keep_id {
        member(&mut out, br#""messageId":""#);
        new_message_id(&mut out);
        out.push(b'"');
    }
    if !keep_timestamp {
        member(&mut out, br#""timestamp":""#);
        format_timestamp(at, &mut out);
        out.push(b'"');
    }
    if get("context").is_none() {
        member(&mut out, br#""context":"#);
        out.extend_from_slice(LIBRARY_CONTEXT.as_bytes());
    }
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{classify, Classification};
    use crate::decision::parse_notification;
    use serde_json::Value;
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
        expected["context"]["library"]["version"] = env!("CARGO_PKG_VERSION").into();
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
    fn counted_length_matches_written_bytes() {
        let cfgs = [Config::default(), Config { property_style: PropertyStyle::Optimizely, ..Config::default() },
            Config { property_style: PropertyStyle::Segment, include_attributes: false, ..Config::default() }];
        let strings = ["", "plain", "quote\"d", "back\\slash", "ctl\u{1}\u{1f}\n\t\r\u{8}\u{c}", "ünïcødé ✓", "0123456789abcdef\"", "\u{7f}x"];
        for cfg in &cfgs {
            for s in strings {
                let user = if s.is_empty() { "u" } else { s };
                let n = serde_json::json!({"type":"flag","userId": user, "attributes": {"k": s},
                    "decisionInfo": {"flagKey": format!("f{s}"), "ruleKey": s, "variationKey": "v", "experimentId": s}});
                let text = n.to_string();
                let d = parse_notification(&text).unwrap();
                let p = PackedExposure::pack(&d, &ExposureIds::default(), cfg, SystemTime::now(), Vec::new());
                let mut out = Vec::new();
                p.write_to(cfg, &mut out);
                assert_eq!(p.serialized_len(cfg), out.len(), "{s:?}");
                let v: Value = serde_json::from_slice(&out).unwrap();
                assert_eq!(v["userId"], user);
            }
        }
        assert!(!needs_escape(b"abcdefghijklmnopqrstuvwxyz0123456789-_.~ \x7f\xc3\xa9"));
        for bad in [&b"abcdefg\""[..], b"abcdefgh\\", b"\x00", b"abcdefghijklmno\x1f"] {
            assert!(needs_escape(bad), "{bad:?}");
        }
    }

    #[test]
    fn rule_type_and_experiment_type_in_both_and_optimizely_styles_only() {
        let n = r#"{"type":"flag","userId":"u","decisionInfo":{"flagKey":"f","ruleKey":"r","variationKey":"v"}}"#;
        let d = parse_notification(n).unwrap();
        let at = SystemTime::now();
        for (rule_type, name) in [(RuleType::Experiment, "experiment"), (RuleType::Holdout, "holdout"), (RuleType::Rollout, "rollout")] {
            for experiment_type in [None, Some("fr"), Some("q\"t")] {
                let ids = ExposureIds { rule_type: Some(rule_type), experiment_type, ..ExposureIds::default() };
                for style in [PropertyStyle::Both, PropertyStyle::Optimizely, PropertyStyle::Segment] {
                    let cfg = Config { property_style: style, ..Config::default() };
                    let p = PackedExposure::pack(&d, &ids, &cfg, at, Vec::new());
                    let mut out = Vec::new();
                    p.write_to(&cfg, &mut out);
                    assert_eq!(p.serialized_len(&cfg), out.len());
                    let props = serde_json::from_slice::<Value>(&out).unwrap()["properties"].clone();
                    if style == PropertyStyle::Segment {
                        assert!(props.get("ruleType").is_none() && props.get("experimentType").is_none(), "{props}");
                    } else {
                        assert_eq!(props["ruleType"], name);
                        assert_eq!(props.get("experimentType").and_then(Value::as_str), experiment_type);
                    }
                }
            }
        }
        // Unknown (no datafile): no ruleType at all.
        let bytes = experiment_viewed(&d, &ExposureIds::default(), &Config::default(), at);
        assert!(serde_json::from_slice::<Value>(&bytes).unwrap()["properties"].get("ruleType").is_none());
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
