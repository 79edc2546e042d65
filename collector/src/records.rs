//! What the collector records about each request, as served by `GET /_test/requests` and
//! `GET /_test/profile_requests`: JSON objects with the field names as keys, absent options as
//! `null` (serde derive; the Go, Java and Ruby tests read these shapes).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request to `/v1/*` as the collector saw it, including refused and scripted ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestRecord {
    /// Path without the query string, e.g. `/v1/batch`.
    pub path: String,
    /// Status we answered; 0 when the connection was dropped or hung.
    pub status: u16,
    /// `X-Retry-Count` header.
    pub retry_count: Option<String>,
    /// `Content-Encoding` header.
    pub content_encoding: Option<String>,
    /// The write key (Basic header or body `writeKey`) was acceptable.
    pub authorization_ok: bool,
    /// Body length as received (compressed size when gzip'd).
    pub body_bytes: usize,
    /// Body length after decoding (0 when it could not be decoded).
    pub decoded_bytes: usize,
    /// `messageId` of every message in the body (in order; absent ones skipped).
    pub message_ids: Vec<String>,
    /// Batch-level `sentAt` (or the message's `sentAt` on single-message paths).
    pub sent_at: Option<String>,
    /// When the request was received (body read), unix milliseconds.
    pub received_at_ms: u64,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
}

/// One request to `/v1/spaces/...` (the Profile API), including refused and scripted ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileRequest {
    /// `GET` normally.
    pub method: String,
    /// Path as received (still percent-encoded) plus `?query` when there is one.
    pub path: String,
    /// The `{identifier}` path segment percent-decoded (`phone_number:+5555550123`); the raw
    /// segment when it cannot be decoded; empty when the path has no identifier segment.
    pub identifier: String,
    /// `traits`, `external_ids` or `links` (the last path segment as sent, when the path has
    /// the profile route's shape; empty otherwise).
    pub route: String,
    /// Status answered; 0 when the connection was dropped or hung.
    pub status: u16,
    /// The Basic token matched the fixture's access token and `{space_id}` the fixture's space.
    pub authorization_ok: bool,
    /// When the request was received, unix milliseconds.
    pub received_at_ms: u64,
}

/// The JSON helpers both record types share (kept for callers of the earlier hand-written API).
macro_rules! json_helpers {
    ($t:ty, $what:literal) => {
        impl $t {
            /// JSON object with the field names as keys; absent options are `null`.
            pub fn to_json(&self) -> Value {
                serde_json::to_value(self).expect("a record always serializes")
            }

            /// Inverse of `to_json`; missing fields take their zero value.
            pub fn from_json(v: &Value) -> Result<$t, String> {
                <$t>::deserialize(v).map_err(|e| format!("{} {v}: {e}", $what))
            }
        }
    };
}

json_helpers!(RequestRecord, "request record");
json_helpers!(ProfileRequest, "profile request record");
