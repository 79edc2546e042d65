//! Segment Profile API (Unify) routes, served from fixture profiles.
//!
//! `GET /v1/spaces/{space_id}/collections/users/profiles/{identifier}/{traits|external_ids|links}`
//! answered from a fixture loaded with [`crate::Collector::set_profiles`] (or
//! `POST /_test/profiles`, or the binary's `--profiles FILE`). Profile requests have their own
//! FIFO fault script and their own request log; they never touch the `/v1/batch` script, the
//! message list, the message counters or the printer.
//!
//! Answers, in this order of checks:
//! 1. method other than GET: 405 (recorded; does not consume a script step);
//! 2. the next profile script step, if any (Drop, Hang, non-2xx status, or a delay);
//! 3. 401 `authentication_error` unless `Authorization: Basic base64("<access_token>:")`
//!    (empty password) matches the fixture's token AND `{space_id}` matches the fixture's space
//!    (a wrong space is answered 401, not 404);
//! 4. 404 `not_found` for a path that is not one of the three routes on `collections/users`;
//! 5. 400 `invalid_request_error` for a malformed percent-escape in the path or query;
//! 6. 404 `not_found` / "Profile was not found." for an identifier without `:` (or with an
//!    empty type or value) and for an unknown profile;
//! 7. 400 `validation_error` for a `limit` that is not an integer in 1..=max, or an unknown
//!    `next` cursor;
//! 8. 200 (or the scripted 2xx code) with the body.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::http::{basic_credentials, percent_decode, HttpRequest, Outcome, Resp};
use crate::profile_fixture::{Fixture, IdEntry, FIRST_MESSAGE_ID};
use crate::records::ProfileRequest;
use crate::state::{lock, now_ms, Shared};

/// `(default, max)` of the `limit` query parameter per route.
pub const TRAITS_LIMIT: (usize, usize) = (10, 200);
pub const EXTERNAL_IDS_LIMIT: (usize, usize) = (25, 100);
pub const LINKS_LIMIT: (usize, usize) = (20, 20);

/// Prefix of the opaque `cursor.next` of `/external_ids` (followed by an index).
const EXTERNAL_IDS_CURSOR: &str = "fixture_";

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

fn with_request_id(shared: &Shared, mut resp: Resp) -> Resp {
    let n = shared.profile_request_seq.fetch_add(1, Ordering::Relaxed);
    resp.headers.push(("Request-Id", format!("fixture-{n}")));
    resp
}

fn error_resp(status: u16, code: &str, message: &str) -> Resp {
    Resp::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

fn not_found_profile() -> (u16, Resp) {
    (404, error_resp(404, "not_found", "Profile was not found."))
}

/// `error.code` of a scripted non-2xx status.
fn scripted_code(status: u16) -> &'static str {
    match status {
        300..=399 => "redirect",
        429 => "rate_limit_error",
        401 | 403 => "authentication_error",
        404 => "not_found",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

/// The access token from `Basic base64("<token>:")`; None unless the password is empty.
fn basic_token(header: Option<&str>) -> Option<String> {
    let text = basic_credentials(header)?;
    let token = text.strip_suffix(':')?;
    (!token.is_empty() && !token.contains(':')).then(|| token.to_owned())
}

/// Path segments after `/v1/spaces/`:
/// `[space, "collections", collection, "profiles", identifier, route]` when well-formed.
struct ProfilePath<'a> {
    space: &'a str,
    /// `(collection, identifier, route)`
    rest: Option<(&'a str, &'a str, &'a str)>,
}

fn parse_path(path: &str) -> ProfilePath<'_> {
    let tail = path
        .strip_prefix("/v1/spaces/")
        .unwrap_or("")
        .trim_end_matches('/');
    let segs: Vec<&str> = tail.split('/').collect();
    let rest = match segs.as_slice() {
        [_, "collections", collection, "profiles", ident, route] if !ident.is_empty() => {
            Some((*collection, *ident, *route))
        }
        _ => None,
    };
    ProfilePath {
        space: segs.first().copied().unwrap_or(""),
        rest,
    }
}

fn query_params(q: &str) -> Result<Vec<(String, String)>, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Ok((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_limit(
    params: &[(String, String)],
    (default, max): (usize, usize),
) -> Result<usize, (u16, Resp)> {
    match param(params, "limit") {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err((
                400,
                error_resp(
                    400,
                    "validation_error",
                    &format!("limit must be an integer between 1 and {max} (got {s:?})"),
                ),
            )),
        },
    }
}

/// `include` split on commas (after decoding); None when absent or empty.
fn include_set(params: &[(String, String)]) -> Option<HashSet<&str>> {
    let v = param(params, "include").filter(|v| !v.is_empty())?;
    Some(v.split(',').filter(|s| !s.is_empty()).collect())
}

fn bad_cursor(next: &str) -> (u16, Resp) {
    (
        400,
        error_resp(
            400,
            "validation_error",
            &format!("invalid cursor next={next:?}"),
        ),
    )
}

pub(crate) fn handle(shared: &Shared, req: HttpRequest) -> Outcome {
    let parsed = parse_path(&req.path);
    let mut rec = ProfileRequest {
        method: req.method.clone(),
        path: if req.query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, req.query)
        },
        identifier: String::new(),
        route: String::new(),
        status: 0,
        authorization_ok: false,
        received_at_ms: now_ms(),
    };
    if let Some((_, ident, route)) = parsed.rest {
        rec.route = route.to_owned();
        rec.identifier = percent_decode(ident, false).unwrap_or_else(|_| ident.to_owned());
    }
    let fixture: Arc<Fixture> = lock(&shared.profiles).clone();
    let token_ok = match (
        &fixture.access_token,
        basic_token(req.header("authorization")),
    ) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(want), Some(got)) => *want == got,
    };
    let space_ok = match &fixture.space_id {
        None => !parsed.space.is_empty(),
        Some(want) => percent_decode(parsed.space, false).ok().as_deref() == Some(want.as_str()),
    };
    rec.authorization_ok = token_ok && space_ok;

    if req.method != "GET" {
        rec.status = 405;
        shared.commit_profile(rec);
        let mut resp = error_resp(405, "invalid_request_error", "Method not allowed.");
        resp.headers.push(("Allow", "GET".into()));
        return Outcome::Respond(with_request_id(shared, resp));
    }

    let step = lock(&shared.profile_script).pop_front();
    let scripted_error = |code, message: &str| {
        with_request_id(shared, error_resp(code, scripted_code(code), message))
    };
    let success_code = match shared.play(step, scripted_error) {
        Ok(code) => code,
        Err((status, outcome)) => {
            rec.status = status;
            shared.commit_profile(rec);
            return outcome;
        }
    };

    let (status, resp) = match answer(&fixture, &req, &parsed, rec.authorization_ok) {
        Ok(body) => (
            success_code,
            Resp::raw_json(success_code, body.into_bytes()),
        ),
        Err(e) => e,
    };
    rec.status = status;
    shared.commit_profile(rec);
    Outcome::Respond(with_request_id(shared, resp))
}

/// Normal processing: Ok(body JSON text) or Err((status, response)).
fn answer(
    fx: &Fixture,
    req: &HttpRequest,
    parsed: &ProfilePath<'_>,
    authorized: bool,
) -> Result<String, (u16, Resp)> {
    if !authorized {
        return Err((
            401,
            error_resp(
                401,
                "authentication_error",
                "No valid Access Token provided (Basic base64(\"<access_token>:\") for this space).",
            ),
        ));
    }
    let route_not_found = || {
        (
            404,
            error_resp(
                404,
                "not_found",
                &format!("The requested resource doesn't exist: {}", req.path),
            ),
        )
    };
    let Some((collection, ident, route)) = parsed.rest else {
        return Err(route_not_found());
    };
    if collection != "users" || !matches!(route, "traits" | "external_ids" | "links") {
        return Err(route_not_found());
    }
    let bad_request = |e: String| (400, error_resp(400, "invalid_request_error", &e));
    let identifier = percent_decode(ident, false).map_err(bad_request)?;
    let params = query_params(&req.query).map_err(bad_request)?;
    match identifier.split_once(':') {
        Some((t, v)) if !t.is_empty() && !v.is_empty() => {}
        _ => return Err(not_found_profile()),
    }
    let profile = match fx.index.get(&identifier) {
        Some(&i) => &fx.profiles[i],
        None => return Err(not_found_profile()),
    };
    let include = include_set(&params);
    let next = param(&params, "next").filter(|n| !n.is_empty());
    let cursor =
        |has_more: bool, next: String| json!({"url": req.path, "has_more": has_more, "next": next});
    match route {
        "traits" => {
            let limit = parse_limit(&params, TRAITS_LIMIT)?;
            let list: Vec<&(String, String)> = profile
                .traits
                .iter()
                .filter(|(k, _)| include.as_ref().is_none_or(|inc| inc.contains(k.as_str())))
                .collect();
            let start = match next {
                None => 0,
                Some(n) => list
                    .iter()
                    .position(|(k, _)| k == n)
                    .ok_or_else(|| bad_cursor(n))?,
            };
            let end = (start + limit).min(list.len());
            let has_more = end < list.len();
            let next = if has_more {
                list[end].0.clone()
            } else {
                String::new()
            };
            let mut out = String::from("{\"traits\":{");
            for (i, (k, v)) in list[start..end].iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                out.push_str(v);
            }
            out.push_str("},\"cursor\":");
            out.push_str(&cursor(has_more, next).to_string());
            out.push('}');
            Ok(out)
        }
        "external_ids" => {
            let limit = parse_limit(&params, EXTERNAL_IDS_LIMIT)?;
            let list: Vec<&IdEntry> = profile
                .external_ids
                .iter()
                .filter(|e| {
                    include
                        .as_ref()
                        .is_none_or(|inc| inc.contains(e.ty.as_str()))
                })
                .collect();
            let start = match next {
                None => 0,
                Some(n) => n
                    .strip_prefix(EXTERNAL_IDS_CURSOR)
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|&i| i < list.len())
                    .ok_or_else(|| bad_cursor(n))?,
            };
            let end = (start + limit).min(list.len());
            let has_more = end < list.len();
            let next = if has_more {
                format!("{EXTERNAL_IDS_CURSOR}{end}")
            } else {
                String::new()
            };
            let data: Vec<Value> = list[start..end]
                .iter()
                .map(|e| {
                    json!({
                        "id": e.id,
                        "type": e.ty,
                        "collection": "users",
                        "source_id": e.source_id,
                        "created_at": e.created_at,
                        "encoding": "none",
                        "first_message_id": FIRST_MESSAGE_ID,
                    })
                })
                .collect();
            Ok(json!({"data": data, "cursor": cursor(has_more, next)}).to_string())
        }
        _ => {
            let limit = parse_limit(&params, LINKS_LIMIT)?;
            let data: Vec<Value> = profile
                .links
                .iter()
                .take(limit)
                .map(|l| {
                    json!({
                        "to_collection": "accounts",
                        "external_ids": [{
                            "id": l.id,
                            "type": l.ty,
                            "source_id": l.source_id,
                            "collection": "accounts",
                            "created_at": l.created_at,
                            "encoding": "none",
                        }],
                    })
                })
                .collect();
            Ok(json!({ "data": data }).to_string())
        }
    }
}
