//! Client configuration: the JSON object given to `flagwire_init` (DESIGN §3).
//! Unknown keys are refused so a typo never silently falls back to a default.

use serde::Deserialize;
use std::time::Duration;

use crate::profile::ProfileConfig;

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
            // max_in_flight x 500 KB); memory is allocated as used.
            max_queue_events: 100_000,
            max_queue_bytes: 32 * 1024 * 1024,
            // Little's law: the budget of 100 requests/s at 200 ms a request needs 20 in flight.
            max_in_flight: 20,
            // Segment asks for at most 1,000 requests/s per workspace across all processes; 100
            // per process delivers > 100,000 events/s in full 500 KB batches, and a process
            // only reaches it under that kind of load (requests carry batch_size events or more).
            max_requests_per_second: 100,
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
            for (key, v) in map {
                let single = serde_json::Value::Object([(key.clone(), v.clone())].into_iter().collect());
                if let Err(e) = serde_json::from_value::<Config>(single) {
                    let e = e.to_string();
                    return Err(if e.contains(&format!("`{key}`")) { format!("config: {e}") } else { format!("config: `{key}`: {e}") });
                }
            }
        }
        let config: Config = serde_json::from_value(value).map_err(|e| format!("config: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.write_key.is_empty() {
            return Err("config: `write_key` is required and must be a non-empty string".into());
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(format!("config: `batch_size` must be 1..={MAX_BATCH_SIZE}, got {}", self.batch_size));
        }
        if self.flush_interval_ms == 0 {
            return Err("config: `flush_interval_ms` must be at least 1".into());
        }
        if self.max_queue_events == 0 {
            return Err("config: `max_queue_events` must be at least 1".into());
        }
        if self.max_queue_bytes < MAX_MESSAGE_BYTES {
            return Err(format!("config: `max_queue_bytes` must be at least {MAX_MESSAGE_BYTES}"));
        }
        if self.backoff_base_ms == 0 || self.backoff_max_ms < self.backoff_base_ms {
            return Err("config: `backoff_base_ms` must be >= 1 and `backoff_max_ms` >= `backoff_base_ms`".into());
        }
        if !(1..=64).contains(&self.max_in_flight) {
            return Err(format!("config: `max_in_flight` must be 1..=64, got {}", self.max_in_flight));
        }
        if !(1..=100_000).contains(&self.max_requests_per_second) {
            return Err(format!("config: `max_requests_per_second` must be 1..=100000, got {}", self.max_requests_per_second));
        }
        if self.request_timeout_ms == 0 {
            return Err("config: `request_timeout_ms` must be at least 1".into());
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
}
