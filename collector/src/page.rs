//! The live exposure page: `GET /` (one HTML file with its script), the vendored Chart.js it
//! draws with (served from this binary: there may be no internet), and the JSON it polls.
//!
//! - `GET /_test/live`: per rule, users and events per variation against the datafile's split,
//!   and the SRM verdict (`live.rs`);
//! - `GET /_test/live/events?flag=F&user=U&limit=N`: the newest accepted messages, newest first,
//!   whose flag / user contain F / U;
//! - `GET /_test/datafile`: what datafile is loaded; `POST /_test/datafile`: load one (also
//!   `--datafile FILE` and [`crate::Collector::set_datafile_json`]).

use std::sync::{Arc, MutexGuard};

use serde_json::{json, Value};

use crate::datafile::Datafile;
use crate::http::{percent_decode, HttpRequest, Resp};
use crate::live::Live;
use crate::state::{lock, Shared};

const PAGE: &str = include_str!("../assets/live.html");
/// Chart.js 4.6.1, `dist/chart.umd.min.js` of the npm package (MIT; see assets/README.md).
const CHART_JS: &[u8] = include_bytes!("../assets/chart.umd.min.js");
const CHART_JS_LICENSE: &str = include_str!("../assets/chart.js-LICENSE.md");

/// Most rows one events request returns.
const MAX_EVENT_ROWS: usize = 1000;

/// `GET /` and its assets; None for any other path.
pub(crate) fn asset(req: &HttpRequest) -> Option<Resp> {
    let (content_type, body): (&'static str, &[u8]) = match req.path.as_str() {
        "/" | "/index.html" => ("text/html; charset=utf-8", PAGE.as_bytes()),
        "/assets/chart.umd.min.js" => ("text/javascript; charset=utf-8", CHART_JS),
        "/assets/chart.js-LICENSE.md" => ("text/plain; charset=utf-8", CHART_JS_LICENSE.as_bytes()),
        _ => return None,
    };
    let mut resp = Resp::bytes(200, content_type, body.to_vec());
    resp.headers.push(("Cache-Control", "no-cache".into()));
    Some(resp)
}

/// The live figures, caught up with every message accepted so far.
fn caught_up(shared: &Shared) -> MutexGuard<'_, Live> {
    let mut live = lock(&shared.live);
    let new: Vec<Arc<str>> = {
        let d = shared.data();
        if d.generation != live.generation() {
            live.restart(d.generation);
        }
        d.messages
            .get(live.consumed()..)
            .unwrap_or_default()
            .to_vec()
    };
    live.catch_up(&new);
    live
}

/// `GET /_test/live`.
pub(crate) fn summary(shared: &Shared) -> Value {
    let datafile = lock(&shared.datafile).clone();
    caught_up(shared).summary(datafile.as_deref())
}

/// `GET /_test/live/events`.
pub(crate) fn events(shared: &Shared, req: &HttpRequest) -> Resp {
    let param = |k| req.query_param(k).map(decode).unwrap_or_default();
    let limit = match req.query_param("limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) => n.min(MAX_EVENT_ROWS),
        Some(Err(_)) => return Resp::json(400, &json!({"ok": false, "error": "invalid limit"})),
    };
    let rows = caught_up(shared).events(&param("flag"), &param("user"), limit);
    Resp::json(200, &rows)
}

/// `GET` / `POST /_test/datafile`.
pub(crate) fn datafile_route(shared: &Shared, req: &HttpRequest) -> Resp {
    if req.method != "GET" {
        let loaded = std::str::from_utf8(&req.body)
            .map_err(|_| "datafile is not UTF-8".to_string())
            .and_then(|text| set_datafile(shared, text));
        return match loaded {
            Ok(n) => Resp::json(200, &json!({"ok": true, "experiments": n})),
            Err(e) => Resp::json(400, &json!({"ok": false, "error": e})),
        };
    }
    let d = lock(&shared.datafile).clone();
    Resp::json(
        200,
        &json!({
            "loaded": d.is_some(),
            "revision": d.as_ref().and_then(|d| d.revision.clone()),
            "experiments": d.as_ref().map(|d| d.experiment_count()),
        }),
    )
}

/// Parses and installs a datafile; the number of experiments in it.
pub(crate) fn set_datafile(shared: &Shared, text: &str) -> Result<usize, String> {
    let d = Datafile::parse(text)?;
    let n = d.experiment_count();
    *lock(&shared.datafile) = Some(Arc::new(d));
    Ok(n)
}

/// A query value percent-decoded (`+` is a space); undecodable input is used as it is.
fn decode(s: &str) -> String {
    percent_decode(s, true).unwrap_or_else(|_| s.to_owned())
}
