//! Client configuration: the JSON object given to `flagwire_init` (docs/design.md §3).
//! Unknown keys are refused so a typo never silently falls back to a default.

use serde::Deserialize;
use std::time::Duration;

use crate::profile::ProfileConfig;
use crate::spool::SpoolConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyStyle {
    Optimizely,
    Segment,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum UserIdField {
    #[serde(rename = "userId")]
    UserId,
    #[serde(rename = "anonymousId")]
    AnonymousId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

/// Segment's per-request limit for `/v1/batch` and per-message limit (segment.md §1.4, analytics-go's values).
pub(crate) const MAX_BATCH_BYTES: usize = 500_000;
pub(crate) const MAX_MESSAGE_BYTES: usize = 32_000;
pub(crate) const MAX_BATCH_SIZE: usize = 2_500;

/// One numeric key's accepted range (inclusive) and default. Anything outside, or not an integer,
/// is INVALID_CONFIG naming the key and the range: no value can make flagwire allocate without
/// bound, overflow a deadline, or panic.
pub struct NumericKey {
    /// `object.`-prefixed for keys of a nested object (`profile.`, `dedupe.`).
    pub key: &'static str,
    pub min: u64,
    pub max: u64,
    // Read by the README table's test.
    #[cfg_attr(not(test), allow(dead_code))]
    pub default: u64,
    #[cfg_attr(not(test), allow(dead_code))]
    pub meaning: &'static str,
}

const fn numeric(key: &'static str, min: u64, max: u64, default: u64, meaning: &'static str) -> NumericKey {
    NumericKey { key, min, max, default, meaning }
}

/// Every numeric config key. README.md's range table is rendered from this list
/// ([`ranges_markdown`]) and a test keeps the two equal.
pub const NUMERIC_KEYS: &[NumericKey] = &[
    numeric("batch_size", 1, MAX_BATCH_SIZE as u64, 250, "a batch may leave once it holds this many; when more wait it fills to 500 KB / 2,500"),
    numeric("flush_interval_ms", 1, 3_600_000, 1_000, "longest the oldest waiting event waits before its batch may leave"),
    numeric("max_queue_events", 1, 10_000_000, 200_000, "bound on events held (waiting, being batched, in flight)"),
    numeric("max_queue_bytes", MAX_MESSAGE_BYTES as u64, 1 << 32, 64 * 1024 * 1024, "bound on serialized bytes held, likewise"),
    numeric("max_retries", 0, 100, 10, "attempts after the first, per batch"),
    numeric("backoff_base_ms", 1, 60_000, 100, "first backoff"),
    numeric("backoff_max_ms", 1, 3_600_000, 10_000, "longest backoff; at least `backoff_base_ms`"),
    numeric("request_timeout_ms", 1, 600_000, 10_000, "per HTTP request"),
    numeric("max_in_flight", 1, 64, 40, "requests in flight at once"),
    numeric("max_requests_per_second", 1, 100_000, 200, "request budget: requests started per second"),
    numeric("profile.cache_ttl_ms", 0, 86_400_000, 120_000, "Profile API answers served from the cache"),
    numeric("profile.cache_max_entries", 1, 1_000_000, 100_000, "Profile API cache bound, allocated as used"),
    numeric("profile.timeout_ms", 1, 60_000, 300, "longest a Profile API lookup blocks its caller"),
    numeric("dedupe.window_ms", 1_000, 604_800_000, 86_400_000, "dedupe: a repeat of the same assignment within this is not sent"),
    numeric("dedupe.max_entries", 0, 10_000_000, 1_000_000, "dedupe: (user, flag) pairs remembered; oldest evicted; 0 = ids only"),
    numeric("hold_max_events", 0, 100_000, 1_000, "decisions held while the datafile lacks their rule; 0 = never hold"),
    numeric("hold_max_bytes", 0, 64 * 1024 * 1024, 1024 * 1024, "bytes held likewise"),
    numeric("hold_timeout_ms", 1, 300_000, 5_000, "a held decision then falls back to the no-datafile rule"),
    numeric("max_exposure_counters", 0, 1_000_000, 10_000, "(flag, rule, variation) exposure counters in stats; more go to overflow"),
    numeric("spool.max_bytes", 1 << 20, 1 << 36, 1 << 30, "spool: disk bound (whole 4 KiB blocks); oldest files dropped beyond it"),
    numeric("spool.sync_interval_ms", 1, 60_000, 1_000, "spool: with `sync` \"interval\", written files are synced this often"),
];

/// README.md's table of [`NUMERIC_KEYS`] (a test keeps the README's copy equal).
#[cfg(test)]
pub fn ranges_markdown() -> String {
    let n = |v: u64| {
        let digits = v.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    let mut table = String::from("| key | range | default | meaning |\n|---|---|---|---|\n");
    for k in NUMERIC_KEYS {
        table += &format!("| `{}` | {}..={} | {} | {} |\n", k.key, n(k.min), n(k.max), n(k.default), k.meaning);
    }
    table
}

/// Checks every numeric key present in the raw config object against [`NUMERIC_KEYS`], before
/// serde sees it (so a number too large for its field is named with its range too).
fn check_ranges(config: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    for k in NUMERIC_KEYS {
        let value = match k.key.split_once('.') {
            Some((object, inner)) => config.get(object).and_then(|p| p.get(inner)),
            None => config.get(k.key),
        };
        let Some(value) = value else { continue };
        if !value.as_u64().is_some_and(|v| (k.min..=k.max).contains(&v)) {
            return Err(format!("config: `{}` must be an integer in {}..={}, got {value}", k.key, k.min, k.max));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub write_key: String,
    pub endpoint: String,
    pub batch_size: usize,
    pub flush_interval_ms: u64,
    pub max_queue_events: usize,
    pub max_queue_bytes: usize,
    pub max_in_flight: usize,
    pub max_requests_per_second: u32,
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub request_timeout_ms: u64,
    pub gzip: bool,
    pub event_name: String,
    pub property_style: PropertyStyle,
    pub include_attributes: bool,
    pub include_rollouts: bool,
    pub user_id_field: UserIdField,
    pub honor_disable_decision_event: bool,
    pub allow_insecure_http: bool,
    pub proxy: Option<String>,
    pub ca_certs_pem: Option<String>,
    pub log_level: LogLevel,
    pub profile: Option<ProfileConfig>,
    // Classification (issues 12, 18, 19; docs/design.md §4).
    pub include_holdouts: bool,
    pub hold_max_events: usize,
    pub hold_max_bytes: usize,
    pub hold_timeout_ms: u64,
    pub max_exposure_counters: usize,
    /// The opt-in dedupe window (issue 15; docs/design.md §4.4); absent = every exposure is sent.
    pub dedupe: Option<DedupeConfig>,
    /// Derived from `write_key` when `dedupe.derive_message_ids` is on: the UUID v5 namespace of
    /// this source's exposure messageIds (the key itself never leaves the process).
    #[serde(skip)]
    pub message_id_namespace: Option<uuid::Uuid>,
    /// The opt-in disk spool (issue 17; docs/design.md §5.1); absent = memory only.
    pub spool: Option<SpoolConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupeConfig {
    pub window_ms: u64,
    pub max_entries: usize,
    pub derive_message_ids: bool,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        // Segment collapses repeated messageIds over about 24 hours: the same horizon.
        DedupeConfig { window_ms: 86_400_000, max_entries: 1_000_000, derive_message_ids: true }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            write_key: String::new(),
            endpoint: "https://api.segment.io".to_string(),
            // Segment's Go and Java libraries leave at 250 too; fewer, fuller requests.
            batch_size: 250,
            flush_interval_ms: 1000,
            // Both bounds count everything held, in-flight requests included (up to
            // max_in_flight x 500 KB = 20 MB); memory is allocated as used.
            max_queue_events: 200_000,
            max_queue_bytes: 64 * 1024 * 1024,
            // Little's law: the budget of 200 requests/s at 200 ms a request needs 40 in flight.
            max_in_flight: 40,
            // Measured (BENCHMARKS.md): a 500 KB batch holds ~960 exposures of ~520 bytes, so 100
            // requests/s capped delivery near 96,000 events/s at any latency; 200 gives ~190,000.
            // Segment asks for at most 1,000 requests/s per workspace across all processes: five
            // processes at full pressure; a process reaches the budget only under that kind of
            // load, since requests carry batch_size events or more.
            max_requests_per_second: 200,
            max_retries: 10,
            backoff_base_ms: 100,
            backoff_max_ms: 10_000,
            request_timeout_ms: 10_000,
            gzip: true,
            event_name: "Experiment Viewed".to_string(),
            property_style: PropertyStyle::Both,
            include_attributes: true,
            include_rollouts: false,
            user_id_field: UserIdField::UserId,
            honor_disable_decision_event: true,
            allow_insecure_http: false,
            proxy: None,
            ca_certs_pem: None,
            log_level: LogLevel::Warn,
            profile: None,
            include_holdouts: true,
            hold_max_events: 1_000,
            hold_max_bytes: 1024 * 1024,
            hold_timeout_ms: 5_000,
            max_exposure_counters: 10_000,
            dedupe: None,
            message_id_namespace: None,
            spool: None,
        }
    }
}

impl Config {
    /// Parses and validates. The error text names the offending key (never its value for secrets).
    pub fn from_json(text: &str) -> Result<Config, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("config is not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err("config must be a JSON object".to_string());
        }
        // Each key alone first, so a type error names its key (serde's message does not).
        if let serde_json::Value::Object(map) = &value {
            check_ranges(map)?;
            for (key, v) in map {
                let single = serde_json::Value::Object([(key.clone(), v.clone())].into_iter().collect());
                if let Err(e) = serde_json::from_value::<Config>(single) {
                    let e = e.to_string();
                    return Err(if e.contains(&format!("`{key}`")) { format!("config: {e}") } else { format!("config: `{key}`: {e}") });
                }
            }
        }
        let mut config: Config = serde_json::from_value(value).map_err(|e| format!("config: {e}"))?;
        config.validate()?;
        if config.dedupe.as_ref().is_some_and(|d| d.derive_message_ids) {
            // One namespace per source: processes sharing a write key derive the same ids.
            config.message_id_namespace =
                Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("flagwire exposure ids:{}", config.write_key).as_bytes()));
        }
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.write_key.is_empty() {
            return Err("config: `write_key` is required and must be a non-empty string".into());
        }
        // Each numeric key's own range was checked in `from_json` (NUMERIC_KEYS).
        if self.backoff_max_ms < self.backoff_base_ms {
            return Err("config: `backoff_max_ms` must be at least `backoff_base_ms`".into());
        }
        if self.event_name.is_empty() {
            return Err("config: `event_name` must be non-empty".into());
        }
        crate::transport::check_endpoint(&self.endpoint, self.allow_insecure_http)
            .map_err(|e| format!("config: `endpoint` {e}"))?;
        if let Some(proxy) = &self.proxy {
            if !(proxy.starts_with("http://") || proxy.starts_with("https://")) {
                return Err("config: `proxy` must be an http://host:port URL".into());
            }
        }
        if let Some(pem) = &self.ca_certs_pem {
            crate::transport::parse_pem_certs(pem).map_err(|e| format!("config: `ca_certs_pem` {e}"))?;
        }
        if let Some(profile) = &self.profile {
            profile.validate(self.allow_insecure_http)?;
        }
        if let Some(spool) = &self.spool {
            spool.validate()?;
        }
        Ok(())
    }

    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_unknown_keys_are_named() {
        let c = Config::from_json(r#"{"write_key":"k"}"#).unwrap();
        assert_eq!(c.batch_size, 250);
        assert_eq!(c.property_style, PropertyStyle::Both);
        let err = Config::from_json(r#"{"write_key":"k","batchsize":5}"#).unwrap_err();
        assert!(err.contains("batchsize"), "{err}");
        let err = Config::from_json(r#"{"write_key":"k","batch_size":0}"#).unwrap_err();
        assert!(err.contains("batch_size"), "{err}");
        for (bad, key) in [(r#"{"write_key":"k","gzip":"yes"}"#, "gzip"), (r#"{"write_key":"k","property_style":"nope"}"#, "property_style"),
                           (r#"{"write_key":"k","user_id_field":"uid"}"#, "user_id_field"), (r#"{"write_key":7}"#, "write_key")] {
            let err = Config::from_json(bad).unwrap_err();
            assert!(err.contains(&format!("`{key}`")), "{err}");
        }
        let err = Config::from_json(r#"{}"#).unwrap_err();
        assert!(err.contains("write_key"), "{err}");
    }

    /// The table's defaults are the code's, and README.md shows the table as rendered.
    #[test]
    fn range_table_matches_defaults_and_readme() {
        let c = Config::default();
        let p = ProfileConfig::default();
        for k in NUMERIC_KEYS {
            let actual = match k.key {
                "batch_size" => c.batch_size as u64,
                "flush_interval_ms" => c.flush_interval_ms,
                "max_queue_events" => c.max_queue_events as u64,
                "max_queue_bytes" => c.max_queue_bytes as u64,
                "max_retries" => u64::from(c.max_retries),
                "backoff_base_ms" => c.backoff_base_ms,
                "backoff_max_ms" => c.backoff_max_ms,
                "request_timeout_ms" => c.request_timeout_ms,
                "profile.cache_ttl_ms" => p.cache_ttl_ms,
                "profile.cache_max_entries" => p.cache_max_entries as u64,
                "profile.timeout_ms" => p.timeout_ms,
                "dedupe.window_ms" => DedupeConfig::default().window_ms,
                "dedupe.max_entries" => DedupeConfig::default().max_entries as u64,
                "spool.max_bytes" => SpoolConfig::default().max_bytes,
                "spool.sync_interval_ms" => SpoolConfig::default().sync_interval_ms,
                "max_in_flight" => c.max_in_flight as u64,
                "max_requests_per_second" => u64::from(c.max_requests_per_second),
                "hold_max_events" => c.hold_max_events as u64,
                "hold_max_bytes" => c.hold_max_bytes as u64,
                "hold_timeout_ms" => c.hold_timeout_ms,
                "max_exposure_counters" => c.max_exposure_counters as u64,
                other => panic!("{other}: add it to this test"),
            };
            assert_eq!(actual, k.default, "{}", k.key);
            assert!((k.min..=k.max).contains(&k.default), "{}", k.key);
        }
        let readme = include_str!("../README.md");
        assert!(readme.contains(&ranges_markdown()), "README.md's range table differs; paste:\n{}", ranges_markdown());
    }

    #[test]
    fn numbers_outside_their_range_name_the_key_and_the_range() {
        for (key, bad) in [("max_queue_events", "18446744073709551615"), ("max_queue_events", "0"), ("batch_size", "2501"),
                           ("flush_interval_ms", "1e300"), ("max_retries", "-1"), ("request_timeout_ms", "1.5"),
                           ("max_queue_bytes", "\"16\""), ("backoff_max_ms", "null"), ("max_queue_bytes", "99999999999999999999999")] {
            let err = Config::from_json(&format!(r#"{{"write_key":"k","{key}":{bad}}}"#)).unwrap_err();
            let k = NUMERIC_KEYS.iter().find(|k| k.key == key).unwrap();
            assert!(err.contains(&format!("`{key}`")) && err.contains(&format!("{}..={}", k.min, k.max)), "{err}");
        }
        let profile = r#"{"write_key":"k","profile":{"space_id":"s","access_token":"t","cache_max_entries":1000000000000}}"#;
        assert!(Config::from_json(profile).unwrap_err().contains("`profile.cache_max_entries` must be an integer in 1..=1000000"));
        assert!(Config::from_json(r#"{"write_key":"k","backoff_base_ms":500,"backoff_max_ms":100}"#).unwrap_err().contains("backoff_max_ms"));
        let c = Config::from_json(r#"{"write_key":"k","max_queue_events":10000000,"max_retries":0,"max_queue_bytes":4294967296}"#).unwrap();
        assert_eq!((c.max_queue_events, c.max_retries), (10_000_000, 0));
    }

    #[test]
    fn classification_keys_have_defaults_and_ranges() {
        let c = Config::from_json(r#"{"write_key":"k"}"#).unwrap();
        assert_eq!((c.include_holdouts, c.hold_max_events, c.hold_max_bytes, c.hold_timeout_ms, c.max_exposure_counters),
                   (true, 1000, 1 << 20, 5000, 10_000));
        for ok in [r#""hold_max_events":0"#, r#""hold_max_bytes":67108864"#, r#""hold_timeout_ms":300000"#, r#""max_exposure_counters":0"#,
                   r#""include_holdouts":false"#] {
            assert!(Config::from_json(&format!(r#"{{"write_key":"k",{ok}}}"#)).is_ok(), "{ok}");
        }
        for (bad, key) in [(r#""hold_max_events":100001"#, "hold_max_events"), (r#""hold_max_bytes":67108865"#, "hold_max_bytes"),
                           (r#""hold_timeout_ms":0"#, "hold_timeout_ms"), (r#""max_exposure_counters":1000001"#, "max_exposure_counters"),
                           (r#""hold_max_events":-1"#, "hold_max_events"), (r#""include_holdouts":1"#, "include_holdouts")] {
            let err = Config::from_json(&format!(r#"{{"write_key":"k",{bad}}}"#)).unwrap_err();
            assert!(err.contains(&format!("`{key}`")), "{bad}: {err}");
        }
    }
}
