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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::{lock, now_ms, HttpRequest, Outcome, Resp, Shared, Step};

/// `created_at` of fixture external ids and links that do not give one.
pub const DEFAULT_CREATED_AT: &str = "2024-01-01T00:00:00Z";
/// `source_id` of fixture external ids and links that do not give one.
pub const DEFAULT_SOURCE_ID: &str = "fixture";
/// `first_message_id` of every external id.
pub const FIRST_MESSAGE_ID: &str = "fixture";

/// `(default, max)` of the `limit` query parameter per route.
pub const TRAITS_LIMIT: (usize, usize) = (10, 200);
pub const EXTERNAL_IDS_LIMIT: (usize, usize) = (25, 100);
pub const LINKS_LIMIT: (usize, usize) = (20, 20);

/// Prefix of the opaque `cursor.next` of `/external_ids` (followed by an index).
const EXTERNAL_IDS_CURSOR: &str = "fixture_";

// ---------------------------------------------------------------------------------------------
// Request record
// ---------------------------------------------------------------------------------------------

/// One request to `/v1/spaces/...` (the Profile API), including refused and scripted ones.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl ProfileRequest {
    /// JSON object with the field names as keys.
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "path": self.path,
            "identifier": self.identifier,
            "route": self.route,
            "status": self.status,
            "authorization_ok": self.authorization_ok,
            "received_at_ms": self.received_at_ms,
        })
    }

    /// Inverse of [`ProfileRequest::to_json`]; missing fields take their zero value.
    pub fn from_json(v: &Value) -> Result<ProfileRequest, String> {
        let o = v
            .as_object()
            .ok_or_else(|| format!("profile request record is not an object: {v}"))?;
        let s = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let n = |k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
        Ok(ProfileRequest {
            method: s("method"),
            path: s("path"),
            identifier: s("identifier"),
            route: s("route"),
            status: n("status") as u16,
            authorization_ok: o
                .get("authorization_ok")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            received_at_ms: n("received_at_ms"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

/// Parsed, validated fixture.
#[derive(Default)]
pub(crate) struct Fixture {
    /// None: any space is accepted.
    space_id: Option<String>,
    /// None: any non-empty token is accepted.
    access_token: Option<String>,
    profiles: Vec<Profile>,
    /// `type:id` of every external id -> index into `profiles`.
    index: HashMap<String, usize>,
}

struct Profile {
    external_ids: Vec<IdEntry>,
    /// In the fixture's key order; values are compact JSON text (their own key order kept).
    traits: Vec<(String, String)>,
    links: Vec<IdEntry>,
}

struct IdEntry {
    ty: String,
    id: String,
    created_at: String,
    source_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureDoc {
    #[serde(default)]
    space_id: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    profiles: Option<Vec<ProfileDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileDoc {
    external_ids: Vec<IdDoc>,
    #[serde(default)]
    traits: Option<OrderedObject>,
    #[serde(default)]
    links: Option<Vec<IdDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdDoc {
    #[serde(rename = "type", default)]
    ty: Option<String>,
    id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    source_id: Option<String>,
}

/// A JSON object with its entries in document order (serde_json's `Map` sorts keys unless its
/// `preserve_order` feature is on, which this crate does not enable).
struct OrderedObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of traits")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(e);
                }
                Ok(OrderedObject(entries))
            }
        }
        d.deserialize_map(V)
    }
}

/// Removes whitespace outside strings from valid JSON text.
fn minify(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_str, mut esc) = (false, false);
    for ch in raw.chars() {
        if in_str {
            out.push(ch);
            if esc {
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else if ch == '"' {
                in_str = false;
            }
        } else if !ch.is_ascii_whitespace() {
            if ch == '"' {
                in_str = true;
            }
            out.push(ch);
        }
    }
    out
}

impl IdEntry {
    fn from_doc(d: IdDoc, default_type: Option<&str>, what: &str) -> Result<IdEntry, String> {
        let ty = match (d.ty, default_type) {
            (Some(t), _) => t,
            (None, Some(t)) => t.to_owned(),
            (None, None) => return Err(format!("{what}: missing \"type\"")),
        };
        if ty.is_empty() || ty.contains(':') {
            return Err(format!(
                "{what}: \"type\" must be non-empty and contain no ':' (got {ty:?})"
            ));
        }
        if d.id.is_empty() {
            return Err(format!("{what}: \"id\" must be non-empty"));
        }
        Ok(IdEntry {
            ty,
            id: d.id,
            created_at: d.created_at.unwrap_or_else(|| DEFAULT_CREATED_AT.into()),
            source_id: d.source_id.unwrap_or_else(|| DEFAULT_SOURCE_ID.into()),
        })
    }

    fn key(&self) -> String {
        format!("{}:{}", self.ty, self.id)
    }
}

impl Fixture {
    /// Parses and validates fixture JSON text (trait order is the document order).
    pub(crate) fn parse(text: &str) -> Result<Fixture, String> {
        if text.trim_start().as_bytes().first() != Some(&b'{') {
            return Err("invalid profile fixture: not a JSON object".into());
        }
        let doc: FixtureDoc =
            serde_json::from_str(text).map_err(|e| format!("invalid profile fixture: {e}"))?;
        for (name, v) in [
            ("space_id", &doc.space_id),
            ("access_token", &doc.access_token),
        ] {
            if v.as_deref() == Some("") {
                return Err(format!("{name} must be non-empty (or absent: any)"));
            }
        }
        let mut fx = Fixture {
            space_id: doc.space_id,
            access_token: doc.access_token,
            ..Fixture::default()
        };
        for (p, pd) in doc.profiles.unwrap_or_default().into_iter().enumerate() {
            if pd.external_ids.is_empty() {
                return Err(format!("profiles[{p}]: external_ids must not be empty"));
            }
            let external_ids = pd
                .external_ids
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    IdEntry::from_doc(d, None, &format!("profiles[{p}].external_ids[{i}]"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let links = pd
                .links
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    IdEntry::from_doc(d, Some("group_id"), &format!("profiles[{p}].links[{i}]"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut seen = HashSet::new();
            let mut traits = Vec::new();
            for (k, v) in pd.traits.map(|o| o.0).unwrap_or_default() {
                if !seen.insert(k.clone()) {
                    return Err(format!("profiles[{p}].traits: duplicate key {k:?}"));
                }
                traits.push((k, minify(v.get())));
            }
            for e in &external_ids {
                if let Some(other) = fx.index.insert(e.key(), p) {
                    return Err(format!(
                        "external id {:?} appears in profiles[{other}] and profiles[{p}]",
                        e.key()
                    ));
                }
            }
            fx.profiles.push(Profile {
                external_ids,
                traits,
                links,
            });
        }
        Ok(fx)
    }

    pub(crate) fn len(&self) -> usize {
        self.profiles.len()
    }

    /// `{"space_id","access_token_set","profiles","identifiers"}` for `GET /_test/profiles`.
    pub(crate) fn summary(&self) -> Value {
        let mut ids: Vec<&String> = self.index.keys().collect();
        ids.sort();
        json!({
            "space_id": self.space_id,
            "access_token_set": self.access_token.is_some(),
            "profiles": self.profiles.len(),
            "identifiers": ids,
        })
    }
}

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
        429 => "rate_limit_error",
        401 | 403 => "authentication_error",
        404 => "not_found",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

/// Percent-decodes `s` (`+` becomes a space when `plus_is_space`, as in query strings).
fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid percent-escape in {s:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("percent-decoded {s:?} is not UTF-8"))
}

/// The access token from `Basic base64("<token>:")`; None unless the password is empty.
fn basic_token(header: Option<&str>) -> Option<String> {
    let (scheme, cred) = header?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
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
    let mut success_code = 200;
    match step {
        None => {}
        Some(Step::Drop) => {
            shared.commit_profile(rec);
            return Outcome::Drop;
        }
        Some(Step::Hang) => {
            shared.commit_profile(rec);
            return Outcome::Hang;
        }
        Some(Step::Redirect { code, location }) => {
            rec.status = code;
            shared.commit_profile(rec);
            let mut resp = error_resp(
                code,
                "redirect",
                &format!("scripted redirect to {location}"),
            );
            resp.headers.push(("Location", location));
            return Outcome::Respond(with_request_id(shared, resp));
        }
        Some(Step::Status {
            code,
            retry_after,
            delay_ms,
        }) => {
            shared.sleep(delay_ms);
            if shared.stopped() {
                shared.commit_profile(rec);
                return Outcome::Drop;
            }
            if (200..300).contains(&code) {
                success_code = code;
            } else {
                rec.status = code;
                shared.commit_profile(rec);
                let mut resp = error_resp(
                    code,
                    scripted_code(code),
                    &format!("scripted status {code}"),
                );
                if let Some(ra) = retry_after {
                    resp.headers.push(("Retry-After", ra));
                }
                return Outcome::Respond(with_request_id(shared, resp));
            }
        }
    }

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
