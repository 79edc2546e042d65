//! Segment Profile API (DESIGN §7): configuration. The lookup client is built on it.

use serde::Deserialize;

use crate::config::Config;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    pub space_id: String,
    pub access_token: String,
    pub endpoint: String,
    pub traits: Option<Vec<String>>,
    pub account_bucketing: bool,
    pub cache_ttl_ms: u64,
    pub cache_max_entries: usize,
    pub timeout_ms: u64,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            space_id: String::new(),
            access_token: String::new(),
            endpoint: "https://profiles.segment.com".into(),
            traits: None,
            account_bucketing: false,
            cache_ttl_ms: 120_000,
            cache_max_entries: 100_000,
            timeout_ms: 300,
        }
    }
}

impl ProfileConfig {
    pub fn validate(&self, allow_insecure_http: bool) -> Result<(), String> {
        if self.space_id.is_empty() {
            return Err("config: `profile.space_id` is required".into());
        }
        if self.access_token.is_empty() {
            return Err("config: `profile.access_token` is required".into());
        }
        if self.timeout_ms == 0 || self.cache_max_entries == 0 {
            return Err("config: `profile.timeout_ms` and `profile.cache_max_entries` must be at least 1".into());
        }
        crate::transport::check_endpoint(&self.endpoint, allow_insecure_http)
            .map_err(|e| format!("config: `profile.endpoint` {e}"))
    }
}

pub struct ProfileClient {
    #[allow(dead_code)]
    config: ProfileConfig,
}

impl ProfileClient {
    pub fn new(config: &ProfileConfig, _client: &Config) -> Result<ProfileClient, String> {
        Ok(ProfileClient { config: config.clone() })
    }
}
