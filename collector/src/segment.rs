//! Segment's Tracking API routes (`/v1/batch`, `/v1/import`, `/v1/track`, ...): authenticate,
//! play the fault script, validate as Segment does, accept or refuse the whole request, record it.

use std::sync::Arc;

use serde_json::Value;

use crate::http::{basic_credentials, HttpRequest, Outcome, Resp};
use crate::records::RequestRecord;
use crate::segment_body::{
    compact_len_over_limit, decode_body, endpoint, validate, Endpoint, Parsed,
};
use crate::state::{lock, now_ms, Shared};
use crate::{strict_json, MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES};

/// Write key from `Authorization: Basic base64("<key>:")` (a missing colon is tolerated).
fn basic_key(header: Option<&str>) -> Option<String> {
    let text = basic_credentials(header)?;
    Some(match text.split_once(':') {
        Some((k, _)) => k.to_owned(),
        None => text,
    })
}

pub(crate) fn handle(shared: &Shared, req: HttpRequest) -> Outcome {
    let header = |k: &str| req.header(k).map(str::to_owned);
    let mut rec = RequestRecord {
        path: req.path.clone(),
        status: 0,
        retry_count: header("x-retry-count"),
        content_encoding: header("content-encoding"),
        authorization_ok: false,
        body_bytes: req.body.len(),
        decoded_bytes: 0,
        message_ids: Vec::new(),
        sent_at: None,
        received_at_ms: now_ms(),
        user_agent: header("user-agent"),
    };
    // The script is consumed in arrival order, before the simulated network delay.
    let step = if req.method == "POST" {
        lock(&shared.script).pop_front()
    } else {
        None
    };
    let delay = lock(&shared.latency).draw();
    shared.sleep_for(delay);
    if shared.stopped() {
        shared.commit(rec, Vec::new());
        return Outcome::Drop;
    }
    if req.method != "POST" {
        rec.status = 405;
        shared.commit(rec, Vec::new());
        let mut resp = Resp::error(405, "method not allowed");
        resp.headers.push(("Allow", "POST".into()));
        return Outcome::Respond(resp);
    }

    // Decode, parse and authenticate (best effort; needed for the record in every case).
    let ep = endpoint(&req.path);
    let decoded = decode_body(&req.body, req.header("content-encoding"));
    if let Ok(d) = &decoded {
        rec.decoded_bytes = d.len();
    }
    let parsed: Result<Parsed<'_>, String> = match (&decoded, ep) {
        (Ok(d), Some(ep)) => Parsed::parse(ep, d),
        (Ok(_), None) => Err(format!("unknown endpoint {}", req.path)),
        (Err(e), _) => Err(e.clone()),
    };
    let header_key = basic_key(req.header("authorization"));
    let body_key = parsed.as_ref().ok().and_then(Parsed::write_key);
    rec.authorization_ok = header_key
        .as_deref()
        .map(|k| shared.key_ok(k))
        .unwrap_or(false)
        || body_key.map(|k| shared.key_ok(k)).unwrap_or(false);
    if let Ok(p) = &parsed {
        p.fill(&mut rec);
    }

    let success_code = match shared.play(step, Resp::error) {
        Ok(code) => code,
        Err((status, outcome)) => {
            rec.status = status;
            shared.commit(rec, Vec::new());
            return outcome;
        }
    };

    let refuse = lock(&shared.refuse_containing).clone();
    let (status, resp, accepted) = match process(ep, parsed, &rec, !shared.lenient_json, refuse.as_deref()) {
        Ok(accepted) => (success_code, Resp::success(success_code), accepted),
        Err((status, reason)) => (status, Resp::error(status, &reason), Vec::new()),
    };
    rec.status = status;
    drop(decoded);
    shared.commit(rec, accepted);
    Outcome::Respond(resp)
}

/// Normal processing; Ok(accepted messages as JSON text) or Err((status, reason)).
fn process(
    ep: Option<Endpoint>,
    parsed: Result<Parsed<'_>, String>,
    rec: &RequestRecord,
    strict: bool,
    refuse: Option<&str>,
) -> Result<Vec<Arc<str>>, (u16, String)> {
    let refuse_check = |i: usize, text: &[u8]| match refuse {
        Some(needle) if text.windows(needle.len().max(1)).any(|w| w == needle.as_bytes()) => {
            Err((400, format!("message {i} refused: it contains {needle:?} (test rule)")))
        }
        _ => Ok(()),
    };
    let strict_check = |i: usize, text: &[u8]| match strict {
        true => strict_json::check(text).map_err(|e| {
            (
                400,
                format!("message {i}: {e} (strict JSON: Segment-compatible receivers refuse it)"),
            )
        }),
        false => Ok(()),
    };
    let ep = ep.ok_or_else(|| (404, format!("unknown endpoint {}", rec.path)))?;
    let parsed = parsed.map_err(|e| (400, e))?;
    if !rec.authorization_ok {
        return Err((401, "missing or invalid write key".into()));
    }
    let size = rec.decoded_bytes;
    let limit = match ep {
        Endpoint::Batch => MAX_BATCH_BYTES,
        Endpoint::Single(_) => MAX_MESSAGE_BYTES,
    };
    if size > limit {
        return Err((400, format!("request too large: {size} bytes > {limit}")));
    }
    match parsed {
        Parsed::Batch { items, .. } => {
            let items = items.map_err(|e| (400, e))?;
            for (i, (raw, view)) in items.iter().enumerate() {
                let view = view.as_ref().map_err(|e| (400, e.clone()))?;
                validate(i, view, None).map_err(|e| (400, e))?;
                strict_check(i, raw.get().as_bytes())?;
                refuse_check(i, raw.get().as_bytes())?;
                if let Some(n) = compact_len_over_limit(raw.get()).map_err(|e| (400, e))? {
                    return Err((
                        400,
                        format!("message {i} too large: {n} bytes > {MAX_MESSAGE_BYTES}"),
                    ));
                }
            }
            if items.len() > MAX_BATCH_MESSAGES {
                // Segment answers 200 but rejects the events.
                return Ok(Vec::new());
            }
            Ok(items
                .iter()
                .map(|(raw, _)| Arc::<str>::from(raw.get()))
                .collect())
        }
        Parsed::Single(mut doc, view, text) => {
            let Endpoint::Single(ty) = ep else {
                unreachable!("single body on a batch endpoint")
            };
            validate(0, &view, Some(ty)).map_err(|e| (400, e))?;
            strict_check(0, text)?;
            refuse_check(0, text)?;
            let size = serde_json::to_string(&doc).map(|s| s.len()).unwrap_or(0);
            if size > MAX_MESSAGE_BYTES {
                return Err((
                    400,
                    format!("message too large: {size} bytes > {MAX_MESSAGE_BYTES}"),
                ));
            }
            if let Some(o) = doc.as_object_mut() {
                o.entry("type")
                    .or_insert_with(|| Value::String(ty.to_owned()));
            }
            let s = serde_json::to_string(&doc).map_err(|e| (400, e.to_string()))?;
            Ok(vec![Arc::from(s)])
        }
    }
}
