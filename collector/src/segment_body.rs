//! Bodies of Segment requests: gzip decoding, and parsing just what is validated and recorded
//! (a batch's messages stay raw slices of the decoded body; no full `Value` tree is built).

use std::borrow::Cow;
use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::records::RequestRecord;
use crate::{strict_json, MAX_MESSAGE_BYTES};

const MESSAGE_TYPES: [&str; 6] = ["track", "identify", "page", "screen", "group", "alias"];

/// What a `/v1/*` path takes: a batch, or one message of the given type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Batch,
    Single(&'static str),
}

pub(crate) fn endpoint(path: &str) -> Option<Endpoint> {
    let rest = path.strip_prefix("/v1/")?.trim_end_matches('/');
    match rest {
        "batch" | "import" => Some(Endpoint::Batch),
        other => MESSAGE_TYPES
            .iter()
            .find(|t| **t == other)
            .map(|t| Endpoint::Single(t)),
    }
}

/// Decoding stops here (gzip bombs); anything this large is over every limit anyway.
const MAX_DECODED_BODY: usize = 64 << 20;

pub(crate) fn decode_body<'a>(
    body: &'a [u8],
    encoding: Option<&str>,
) -> Result<Cow<'a, [u8]>, String> {
    let enc = encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match enc.as_str() {
        "" | "identity" => Ok(Cow::Borrowed(body)),
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(8).min(1 << 20));
            flate2::read::MultiGzDecoder::new(body)
                .take(MAX_DECODED_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("invalid gzip body: {e}"))?;
            if out.len() > MAX_DECODED_BODY {
                return Err("decoded body too large".into());
            }
            Ok(Cow::Owned(out))
        }
        other => Err(format!("unsupported content-encoding: {other}")),
    }
}

/// The fields of a message that are validated or recorded; everything else is skipped without
/// being materialised (the batch fast path never builds a full `Value` tree).
#[derive(Deserialize, Default)]
pub(crate) struct View {
    #[serde(rename = "type")]
    ty: Option<Value>,
    #[serde(rename = "userId")]
    user_id: Option<Value>,
    #[serde(rename = "anonymousId")]
    anonymous_id: Option<Value>,
    event: Option<Value>,
    #[serde(rename = "messageId")]
    message_id: Option<Value>,
    #[serde(rename = "sentAt")]
    sent_at: Option<Value>,
    #[serde(rename = "writeKey")]
    write_key: Option<Value>,
}

impl View {
    fn of(doc: &Value) -> View {
        let f = |k: &str| doc.get(k).filter(|v| !v.is_null()).cloned();
        View {
            ty: f("type"),
            user_id: f("userId"),
            anonymous_id: f("anonymousId"),
            event: f("event"),
            message_id: f("messageId"),
            sent_at: f("sentAt"),
            write_key: f("writeKey"),
        }
    }
}

/// The batch envelope; messages stay raw slices of the decoded body.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default, deserialize_with = "batch_items")]
    batch: Option<Result<Vec<&'a RawValue>, String>>,
    #[serde(rename = "sentAt")]
    sent_at: Option<Value>,
    #[serde(rename = "writeKey")]
    write_key: Option<Value>,
}

/// `batch` as raw items in one pass; a non-array `batch` is kept as an error for a clear 400.
fn batch_items<'de, D>(d: D) -> Result<Option<Result<Vec<&'de RawValue>, String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Result<Vec<&'de RawValue>, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of messages")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(item) = seq.next_element::<&'de RawValue>()? {
                items.push(item);
            }
            Ok(Ok(items))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is null".into()))
        }
    }
    d.deserialize_any(V).map(Some)
}

fn is_id(v: &Option<Value>) -> bool {
    match v {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(_)) => true,
        _ => false,
    }
}

pub(crate) fn as_string(v: &Option<Value>) -> Option<String> {
    v.as_ref().and_then(Value::as_str).map(str::to_owned)
}

fn starts_object(text: &[u8]) -> bool {
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Size of `serde_json::to_string(&message_as_value)`, computed only when it can matter.
///
/// Compact re-serialisation never lengthens whitespace, strings or escapes; only numbers can
/// grow (`1e15` -> `1000000000000000.0`, at most 4.5x), so a raw message of at most
/// `MAX_MESSAGE_BYTES / 5` bytes is certainly within the limit.
pub(crate) fn compact_len_over_limit(raw: &str) -> Result<Option<usize>, String> {
    if raw.len() <= MAX_MESSAGE_BYTES / 5 {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("invalid JSON: {e}"))?;
    let n = serde_json::to_string(&v).map_err(|e| e.to_string())?.len();
    Ok((n > MAX_MESSAGE_BYTES).then_some(n))
}

/// Raw batch items, each with its parsed view (or why it could not be parsed).
pub(crate) type Items<'a> = Vec<(&'a RawValue, Result<View, String>)>;

/// A parsed body: what we could learn even when the request is refused.
pub(crate) enum Parsed<'a> {
    Batch {
        sent_at: Option<String>,
        write_key: Option<String>,
        /// Err when `batch` is missing or not an array.
        items: Result<Items<'a>, String>,
    },
    /// The message, its checked fields and its text.
    Single(Value, View, &'a [u8]),
}

impl<'a> Parsed<'a> {
    pub(crate) fn parse(ep: Endpoint, body: &'a [u8]) -> Result<Parsed<'a>, String> {
        match ep {
            Endpoint::Batch => {
                if !starts_object(body) {
                    // Distinguish "not JSON" from "JSON but not an object".
                    return Err(
                        match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                            Ok(_) => "body is not a JSON object".into(),
                            Err(e) => format!("invalid JSON: {e}"),
                        },
                    );
                }
                let env: Envelope<'a> =
                    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
                let items = match env.batch {
                    None => Err("missing \"batch\" array".to_string()),
                    Some(list) => list.map(|list| {
                        list.into_iter()
                            .enumerate()
                            .map(|(i, m)| {
                                let view = if starts_object(m.get().as_bytes()) {
                                    serde_json::from_str::<View>(m.get())
                                        .map_err(|e| format!("message {i}: {e}"))
                                } else {
                                    Err(format!("message {i} is not an object"))
                                };
                                (m, view)
                            })
                            .collect()
                    }),
                };
                Ok(Parsed::Batch {
                    sent_at: as_string(&env.sent_at),
                    write_key: as_string(&env.write_key),
                    items,
                })
            }
            Endpoint::Single(_) => {
                let doc: Value = serde_json::from_slice(body)
                    .map_err(|e| format!("invalid JSON: {}", strict_json::describe(&e)))?;
                if !doc.is_object() {
                    return Err("body is not a JSON object".into());
                }
                let view = View::of(&doc);
                Ok(Parsed::Single(doc, view, body))
            }
        }
    }

    pub(crate) fn write_key(&self) -> Option<&str> {
        match self {
            Parsed::Batch { write_key, .. } => write_key.as_deref(),
            Parsed::Single(_, v, _) => v.write_key.as_ref().and_then(Value::as_str),
        }
    }

    pub(crate) fn fill(&self, rec: &mut RequestRecord) {
        match self {
            Parsed::Batch { sent_at, items, .. } => {
                rec.sent_at = sent_at.clone();
                if let Ok(items) = items {
                    rec.message_ids = items
                        .iter()
                        .filter_map(|(_, v)| v.as_ref().ok().and_then(|v| as_string(&v.message_id)))
                        .collect();
                }
            }
            Parsed::Single(_, v, _) => {
                rec.sent_at = as_string(&v.sent_at);
                rec.message_ids = as_string(&v.message_id).into_iter().collect();
            }
        }
    }
}

/// Strict checks of one message; `implied` is the type implied by a single-message path.
pub(crate) fn validate(i: usize, m: &View, implied: Option<&str>) -> Result<(), String> {
    let ty = match &m.ty {
        Some(Value::String(t)) => {
            if !MESSAGE_TYPES.contains(&t.as_str()) {
                return Err(format!("message {i}: unknown type {t:?}"));
            }
            if let Some(p) = implied {
                if p != t {
                    return Err(format!("message {i}: type {t:?} sent to /v1/{p}"));
                }
            }
            t.as_str()
        }
        None | Some(Value::Null) => match implied {
            Some(p) => p,
            None => return Err(format!("message {i}: missing type")),
        },
        Some(_) => return Err(format!("message {i}: type is not a string")),
    };
    if !is_id(&m.user_id) && !is_id(&m.anonymous_id) {
        return Err(format!(
            "message {i}: no_user_anon_id (neither userId nor anonymousId)"
        ));
    }
    if ty == "track" {
        match &m.event {
            Some(Value::String(e)) if !e.is_empty() => {}
            _ => return Err(format!("message {i}: track without event")),
        }
    }
    Ok(())
}
