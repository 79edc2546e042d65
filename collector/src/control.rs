//! The control routes under `/_test/` that tests in every language use over HTTP. Their JSON
//! shapes are an interface: the Go, Java and Ruby suites read them.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{HttpRequest, Resp};
use crate::page;
use crate::profile_fixture::Fixture;
use crate::script::Step;
use crate::state::{lock, Latency, Shared};

/// Steps from `{"steps":[...]}` (or a bare array); Err is the 400 answer.
fn parse_steps(body: &[u8]) -> Result<Vec<Step>, Resp> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        Resp::json(
            400,
            &json!({"ok": false, "error": format!("invalid JSON: {e}")}),
        )
    })?;
    let list = match &doc {
        Value::Array(a) => Some(a),
        Value::Object(o) => o.get("steps").and_then(Value::as_array),
        _ => None,
    };
    let Some(list) = list else {
        return Err(Resp::json(
            400,
            &json!({"ok": false, "error": "expected {\"steps\":[...]}"}),
        ));
    };
    list.iter()
        .map(Step::from_json)
        .collect::<Result<Vec<Step>, String>>()
        .map_err(|e| Resp::json(400, &json!({"ok": false, "error": e})))
}

/// Largest `latency_ms` / `jitter_ms` accepted over HTTP (10 minutes).
pub const MAX_LATENCY_MS: u64 = 600_000;

/// `{"latency_ms":N,"jitter_ms":M}` (a missing key is 0; unknown keys are refused).
fn parse_latency(body: &[u8]) -> Result<Latency, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        latency_ms: u64,
        #[serde(default)]
        jitter_ms: u64,
    }
    let d: Doc = serde_json::from_slice(body).map_err(|e| format!("invalid latency: {e}"))?;
    if d.latency_ms > MAX_LATENCY_MS || d.jitter_ms > MAX_LATENCY_MS {
        return Err(format!(
            "latency_ms and jitter_ms must be at most {MAX_LATENCY_MS}"
        ));
    }
    Ok(Latency {
        fixed: Duration::from_millis(d.latency_ms),
        jitter: Duration::from_millis(d.jitter_ms),
    })
}

fn latency_json(shared: &Shared) -> Resp {
    let l = *lock(&shared.latency);
    Resp::json(
        200,
        &json!({"latency_ms": l.fixed.as_millis() as u64, "jitter_ms": l.jitter.as_millis() as u64}),
    )
}

/// `GET`: the pending steps; `POST {"steps":[...]}`: appends them.
fn script_route(script: &Mutex<VecDeque<Step>>, req: &HttpRequest) -> Resp {
    if req.method == "GET" {
        return Resp::json(200, &json!({"steps": *lock(script)}));
    }
    match parse_steps(&req.body) {
        Ok(steps) => {
            let mut script = lock(script);
            script.extend(steps);
            Resp::json(200, &json!({"ok": true, "pending": script.len()}))
        }
        Err(resp) => resp,
    }
}

pub(crate) fn control(shared: &Shared, req: &HttpRequest) -> Resp {
    let route = req.path.trim_end_matches('/');
    match route {
        "/_test/health" => Resp::json(200, &json!({"ok": true})),
        "/_test/messages" => {
            let d = shared.data();
            let len: usize = d.messages.iter().map(|m| m.len() + 1).sum();
            let mut body = Vec::with_capacity(len + 16);
            body.extend_from_slice(b"{\"messages\":[");
            for (i, m) in d.messages.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(m.as_bytes());
            }
            body.extend_from_slice(b"]}");
            Resp::raw_json(200, body)
        }
        "/_test/requests" => Resp::json(200, &json!({"requests": shared.data().requests})),
        "/_test/count" => {
            let d = shared.data();
            Resp::json(
                200,
                &json!({
                    "count": d.messages.len(),
                    "requests": d.requests.len(),
                    "in_flight": shared.in_flight.load(Ordering::SeqCst),
                    "max_concurrent": shared.max_concurrent.load(Ordering::SeqCst),
                }),
            )
        }
        "/_test/reset" => {
            shared.reset();
            Resp::json(200, &json!({"ok": true}))
        }
        "/_test/script" => script_route(&shared.script, req),
        "/_test/profile_script" => script_route(&shared.profile_script, req),
        "/_test/profile_requests" => {
            Resp::json(200, &json!({"requests": *lock(&shared.profile_requests)}))
        }
        "/_test/profiles" if req.method == "GET" => {
            Resp::json(200, &lock(&shared.profiles).summary())
        }
        "/_test/profiles" => {
            let parsed = std::str::from_utf8(&req.body)
                .map_err(|_| "fixture is not UTF-8".to_string())
                .and_then(Fixture::parse);
            match parsed {
                Ok(fx) => {
                    let n = fx.len();
                    *lock(&shared.profiles) = Arc::new(fx);
                    Resp::json(200, &json!({"ok": true, "profiles": n}))
                }
                Err(e) => Resp::json(400, &json!({"ok": false, "error": e})),
            }
        }
        "/_test/live" => Resp::json(200, &page::summary(shared)),
        "/_test/live/events" => page::events(shared, req),
        "/_test/datafile" => page::datafile_route(shared, req),
        "/_test/refuse" => {
            let needle = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|v| v.get("containing").and_then(Value::as_str).map(str::to_owned))
                .filter(|n| !n.is_empty());
            *lock(&shared.refuse_containing) = needle.clone();
            Resp::json(200, &json!({"ok": true, "containing": needle}))
        }
        "/_test/latency" if req.method == "GET" => latency_json(shared),
        "/_test/latency" => match parse_latency(&req.body) {
            Ok(l) => {
                *lock(&shared.latency) = l;
                latency_json(shared)
            }
            Err(e) => Resp::json(400, &json!({"ok": false, "error": e})),
        },
        "/_test/wait" => {
            let count = match req.query_param("count").map(str::parse::<usize>) {
                None => 1,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    return Resp::json(400, &json!({"ok": false, "error": "invalid count"}))
                }
            };
            let timeout_ms = match req.query_param("timeout_ms").map(str::parse::<u64>) {
                None => 5000,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    return Resp::json(400, &json!({"ok": false, "error": "invalid timeout_ms"}))
                }
            };
            let (ok, n) = shared.wait_for(count, Duration::from_millis(timeout_ms));
            Resp::json(200, &json!({"ok": ok, "count": n}))
        }
        _ => Resp::json(
            404,
            &json!({"ok": false, "error": format!("unknown control route {}", req.path)}),
        ),
    }
}
