//! Fault scripts: FIFO lists of [`Step`]s that decide how the next requests are answered
//! (played by `Shared::play`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One step of a FIFO fault script: the `/v1/*` script ([`crate::Collector::script`], consumed
/// by each `POST /v1/*` request) or the separate Profile API script
/// ([`crate::Collector::script_profiles`], consumed by each `GET /v1/spaces/...`). A non-2xx
/// status on a Profile API request is answered
/// `{"error":{"code":"rate_limit_error"|"server_error"|...,"message":"scripted status N"}}`.
///
/// JSON form (`POST /_test/script`): `{"status":503}`, `{"status":429,"retry_after":"1"}`
/// (`retry_after` may also be a number), `{"status":200,"delay_ms":500}`,
/// `{"redirect":307,"location":"http://..."}`, `{"drop":true}`, `{"hang":true}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StepDoc", into = "StepDoc")]
pub enum Step {
    /// Sleep `delay_ms`, then: a 2xx `code` processes the request normally (and answers `code`
    /// when processing succeeds); any other code is answered as is (with `Retry-After` when
    /// given) and nothing is accepted.
    Status {
        code: u16,
        retry_after: Option<String>,
        delay_ms: u64,
    },
    /// Answer `code` (3xx) with a `Location: location` header; nothing is accepted.
    Redirect { code: u16, location: String },
    /// Read the request, then close the connection without any response.
    Drop,
    /// Never answer; hold the connection open until the collector stops.
    Hang,
}

impl Step {
    /// `Status { code, retry_after: None, delay_ms: 0 }`.
    pub fn status(code: u16) -> Step {
        Step::Status {
            code,
            retry_after: None,
            delay_ms: 0,
        }
    }

    /// The JSON form (see [`Step`]); `delay_ms` is left out when 0.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a step always serializes")
    }

    /// Inverse of [`Step::to_json`]; `delay_ms` defaults to 0.
    pub fn from_json(v: &Value) -> Result<Step, String> {
        Step::deserialize(v).map_err(|e| format!("{e}: {v}"))
    }
}

/// The JSON object behind a [`Step`]: every key optional, checked in `TryFrom`.
#[derive(Default, Serialize, Deserialize)]
struct StepDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<RetryAfter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redirect: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    drop: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hang: Option<bool>,
}

/// `Retry-After` as a string (`"1"`, an HTTP date) or a number of seconds.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RetryAfter {
    Text(String),
    Number(serde_json::Number),
}

impl TryFrom<StepDoc> for Step {
    type Error = String;

    fn try_from(d: StepDoc) -> Result<Step, String> {
        if d.drop == Some(true) {
            return Ok(Step::Drop);
        }
        if d.hang == Some(true) {
            return Ok(Step::Hang);
        }
        if let Some(code) = d.redirect {
            if !(300..=399).contains(&code) {
                return Err(format!(
                    "step redirect must be an integer 300..=399, got {code}"
                ));
            }
            let location = d
                .location
                .filter(|l| !l.is_empty())
                .ok_or("step redirect needs a non-empty \"location\"")?;
            return Ok(Step::Redirect {
                code: code as u16,
                location,
            });
        }
        let code = d
            .status
            .ok_or("step needs \"status\", \"redirect\", \"drop\":true or \"hang\":true")?;
        if !(100..=999).contains(&code) {
            return Err(format!(
                "step status must be an integer 100..=999, got {code}"
            ));
        }
        Ok(Step::Status {
            code: code as u16,
            retry_after: d.retry_after.map(|r| match r {
                RetryAfter::Text(s) => s,
                RetryAfter::Number(n) => n.to_string(),
            }),
            delay_ms: d.delay_ms.unwrap_or(0),
        })
    }
}

impl From<Step> for StepDoc {
    fn from(s: Step) -> StepDoc {
        match s {
            Step::Status {
                code,
                retry_after,
                delay_ms,
            } => StepDoc {
                status: Some(code.into()),
                retry_after: retry_after.map(RetryAfter::Text),
                delay_ms: (delay_ms > 0).then_some(delay_ms),
                ..StepDoc::default()
            },
            Step::Redirect { code, location } => StepDoc {
                redirect: Some(code.into()),
                location: Some(location),
                ..StepDoc::default()
            },
            Step::Drop => StepDoc {
                drop: Some(true),
                ..StepDoc::default()
            },
            Step::Hang => StepDoc {
                hang: Some(true),
                ..StepDoc::default()
            },
        }
    }
}
