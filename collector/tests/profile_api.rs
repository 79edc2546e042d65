//! The Profile API routes over real HTTP on 127.0.0.1 (a raw HTTP/1.1 client plus ureq).

mod common;

use common::{agent, basic, spawn_binary, Resp};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use flagwire_collector::{Collector, CollectorOptions, ProfileRequest, Step, DEFAULT_CREATED_AT};
use serde_json::{json, Value};

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------


fn send_raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut w = TcpStream::connect(("127.0.0.1", port))?;
    w.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(w.try_clone()?);
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    w.write_all(&bytes)?;
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}


const SPACE: &str = "spa_test";
const TOKEN: &str = "tok_test";

/// `/v1/spaces/spa_test/collections/users/profiles/{ident}/{rest}`
fn ppath(ident: &str, rest: &str) -> String {
    format!("/v1/spaces/{SPACE}/collections/users/profiles/{ident}/{rest}")
}

/// GET a profile route with the right token.
fn pget(c: &Collector, ident: &str, rest: &str) -> Resp {
    let auth = basic(TOKEN);
    send_raw(
        c.port(),
        "GET",
        &ppath(ident, rest),
        &[("Authorization", &auth)],
        b"",
    )
    .unwrap()
}

fn control(c: &Collector, method: &str, path: &str, body: &[u8]) -> Resp {
    send_raw(c.port(), method, path, &[], body).unwrap()
}

/// Fixture text: traits of u1 in a deliberately unsorted order, 12 of them.
const FIXTURE: &str = r#"{"space_id":"spa_test","access_token":"tok_test",
 "profiles":[
   {"external_ids":[{"type":"user_id","id":"u1","created_at":"2023-05-06T07:08:09Z"},
                    {"type":"anonymous_id","id":"a1"},
                    {"type":"anonymous_id","id":"a2","source_id":"src_2"},
                    {"type":"email","id":"alex@example.com"}],
    "traits":{"plan":"pro","age":42,"beta":true,"nested":{"z":1,"a":[1, 2]},"list":[1],
              "t6":6,"t7":7,"t8":8,"t9":9,"t10":10,"zeta":"z","Campaign Name":"Organic"},
    "links":[{"type":"group_id","id":"acme","created_at":"2024-02-01T00:00:00Z"},{"id":"globex"}]},
   {"external_ids":[{"type":"phone_number","id":"+5555550123"}],
    "traits":{"plan":"free"}}
 ]}"#;

fn start() -> Collector {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    assert_eq!(c.set_profiles_json(FIXTURE).unwrap(), 2);
    c
}


fn keys(traits: &Value) -> Vec<String> {
    // serde_json sorts keys, so check order on the raw text instead where it matters.
    traits.as_object().unwrap().keys().cloned().collect()
}

// ------------------------------------------------------------------------------------------
// tests
// ------------------------------------------------------------------------------------------

#[test]
fn traits_default_limit_include_and_cursor() {
    let c = start();
    // Default limit 10, fixture order, has_more with a usable `next`.
    let r = pget(&c, "user_id:u1", "traits");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("request-id").is_some());
    let text = r.text();
    assert!(
        text.starts_with(r#"{"traits":{"plan":"pro","age":42,"beta":true,"nested":{"z":1,"a":[1,2]},"list":[1],"t6":6,"t7":7,"t8":8,"t9":9,"t10":10},"cursor":"#),
        "{text}"
    );
    let v = r.json();
    assert_eq!(v["traits"].as_object().unwrap().len(), 10);
    assert_eq!(
        v["cursor"],
        json!({"url": ppath("user_id:u1", "traits"), "has_more": true, "next": "zeta"})
    );
    // Next page.
    let v = pget(&c, "user_id:u1", "traits?next=zeta").json();
    assert_eq!(v["traits"], json!({"zeta":"z","Campaign Name":"Organic"}));
    assert_eq!(v["cursor"]["has_more"], false);
    assert_eq!(v["cursor"]["next"], "");

    // limit=200 returns everything.
    let v = pget(&c, "user_id:u1", "traits?limit=200").json();
    assert_eq!(v["traits"].as_object().unwrap().len(), 12);
    assert_eq!(v["cursor"]["has_more"], false);
    // limit=3.
    let r = pget(&c, "user_id:u1", "traits?limit=3");
    assert!(r
        .text()
        .starts_with(r#"{"traits":{"plan":"pro","age":42,"beta":true},"#));
    assert_eq!(r.json()["cursor"]["next"], "nested");

    // include filters (percent-encoded keys, '+' as space, unknown keys ignored), and composes
    // with limit in fixture order.
    let v = pget(
        &c,
        "user_id:u1",
        "traits?include=beta,Campaign%20Name,missing&limit=200&class=audience",
    )
    .json();
    assert_eq!(
        v["traits"],
        json!({"beta": true, "Campaign Name": "Organic"})
    );
    assert_eq!(v["cursor"]["has_more"], false);
    let v = pget(&c, "user_id:u1", "traits?include=Campaign+Name").json();
    assert_eq!(v["traits"], json!({"Campaign Name": "Organic"}));
    let v = pget(&c, "user_id:u1", "traits?include=list%2Cplan%2Cage&limit=2").json();
    assert_eq!(keys(&v["traits"]), vec!["age", "plan"]);
    assert_eq!(
        v["cursor"],
        json!({"url": ppath("user_id:u1", "traits"), "has_more": true, "next": "list"})
    );
    // Empty include = no filter.
    let v = pget(&c, "user_id:u1", "traits?include=").json();
    assert_eq!(v["traits"].as_object().unwrap().len(), 10);
    // Profile with no match at all: empty traits.
    let v = pget(&c, "user_id:u1", "traits?include=nope").json();
    assert_eq!(
        v,
        json!({"traits": {}, "cursor": {"url": ppath("user_id:u1", "traits"), "has_more": false, "next": ""}})
    );

    // Bad limits / cursor.
    for q in ["limit=0", "limit=201", "limit=abc", "limit=-1", "next=nope"] {
        let r = pget(&c, "user_id:u1", &format!("traits?{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["error"]["code"], "validation_error", "{q}");
    }
    let r = pget(&c, "user_id:u1", "traits?include=%zz");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "invalid_request_error");
}

#[test]
fn set_profiles_value_api_and_ureq_client() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    c.set_profiles(json!({"space_id":"spa_test","access_token":"tok_test",
     "profiles":[
       {"external_ids":[{"type":"user_id","id":"u1","created_at":"2024-01-01T00:00:00Z"},{"type":"anonymous_id","id":"a1"}],
        "traits":{"plan":"pro","age":42,"beta":true,"nested":{"x":1},"list":[1]},
        "links":[{"type":"group_id","id":"acme","created_at":"2024-02-01T00:00:00Z"}]}
     ]}))
    .unwrap();
    let url = format!(
        "{}{}",
        c.url(),
        ppath("anonymous_id:a1", "traits?limit=200")
    );
    let mut resp = agent()
        .get(&url)
        .header("Authorization", &basic(TOKEN))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"traits":{"plan":"pro","age":42,"beta":true,"nested":{"x":1},"list":[1]},
               "cursor":{"url": ppath("anonymous_id:a1", "traits"),"has_more":false,"next":""}})
    );
    let mut resp = agent()
        .get(format!(
            "{}{}",
            c.url(),
            ppath("user_id:u1", "links?limit=20")
        ))
        .header("Authorization", &basic(TOKEN))
        .call()
        .unwrap();
    let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"data":[{"to_collection":"accounts","external_ids":[{"id":"acme","type":"group_id","source_id":"fixture","collection":"accounts","created_at":"2024-02-01T00:00:00Z","encoding":"none"}]}]})
    );
}

#[test]
fn external_ids_include_limit_and_defaults() {
    let c = start();
    let r = pget(&c, "user_id:u1", "external_ids");
    assert_eq!(r.status, 200);
    let v = r.json();
    let ext = |id: &str, ty: &str, created: &str, source: &str| {
        json!({"id": id, "type": ty, "collection": "users", "source_id": source, "created_at": created,
               "encoding": "none", "first_message_id": "fixture"})
    };
    let all = vec![
        ext("u1", "user_id", "2023-05-06T07:08:09Z", "fixture"),
        ext("a1", "anonymous_id", DEFAULT_CREATED_AT, "fixture"),
        ext("a2", "anonymous_id", DEFAULT_CREATED_AT, "src_2"),
        ext("alex@example.com", "email", DEFAULT_CREATED_AT, "fixture"),
    ];
    assert_eq!(
        v,
        json!({"data": all, "cursor": {"url": ppath("user_id:u1", "external_ids"), "has_more": false, "next": ""}})
    );
    // include by id type.
    let v = pget(&c, "user_id:u1", "external_ids?include=user_id&limit=25").json();
    assert_eq!(v["data"], json!([all[0]]));
    let v = pget(&c, "user_id:u1", "external_ids?include=anonymous_id,email").json();
    assert_eq!(v["data"], json!([all[1], all[2], all[3]]));
    // limit + cursor.
    let v = pget(&c, "user_id:u1", "external_ids?limit=3").json();
    assert_eq!(v["data"], json!([all[0], all[1], all[2]]));
    assert_eq!(v["cursor"]["has_more"], true);
    let next = v["cursor"]["next"].as_str().unwrap().to_owned();
    assert!(!next.is_empty());
    let v = pget(
        &c,
        "user_id:u1",
        &format!("external_ids?limit=3&next={next}"),
    )
    .json();
    assert_eq!(v["data"], json!([all[3]]));
    assert_eq!(v["cursor"]["has_more"], false);
    assert_eq!(pget(&c, "user_id:u1", "external_ids?limit=101").status, 400);
    assert_eq!(
        pget(&c, "user_id:u1", "external_ids?next=bogus").status,
        400
    );
}

#[test]
fn links_shape_and_limit() {
    let c = start();
    let v = pget(&c, "user_id:u1", "links?limit=20").json();
    let link = |id: &str, created: &str| {
        json!({"to_collection":"accounts","external_ids":[{"id": id,"type":"group_id","source_id":"fixture",
               "collection":"accounts","created_at": created,"encoding":"none"}]})
    };
    assert_eq!(
        v,
        json!({"data": [link("acme", "2024-02-01T00:00:00Z"), link("globex", DEFAULT_CREATED_AT)]})
    );
    assert_eq!(pget(&c, "user_id:u1", "links").json(), v);
    assert_eq!(
        pget(&c, "user_id:u1", "links?limit=1").json(),
        json!({"data": [link("acme", "2024-02-01T00:00:00Z")]})
    );
    assert_eq!(pget(&c, "user_id:u1", "links?limit=21").status, 400);
    // A profile without links.
    assert_eq!(
        pget(&c, "phone_number:%2B5555550123", "links").json(),
        json!({"data": []})
    );
}

#[test]
fn lookup_by_any_id_percent_decoding_and_not_found() {
    let c = start();
    let plan = |ident: &str| {
        let r = pget(&c, ident, "traits?include=plan");
        (r.status, r.json())
    };
    for ident in [
        "user_id:u1",
        "anonymous_id:a1",
        "anonymous_id:a2",
        "email:alex%40example.com",
        "email:alex@example.com",
        "user_id%3Au1",
    ] {
        let (s, v) = plan(ident);
        assert_eq!(s, 200, "{ident}");
        assert_eq!(v["traits"], json!({"plan": "pro"}), "{ident}");
    }
    let (s, v) = plan("phone_number:%2B5555550123");
    assert_eq!(s, 200);
    assert_eq!(v["traits"], json!({"plan": "free"}));

    let not_found = json!({"error": {"code": "not_found", "message": "Profile was not found."}});
    // Unknown profile, id type mismatch, case-sensitive, identifier without ':' and with an
    // empty half: all 404 on every route.
    for ident in [
        "user_id:nobody",
        "anonymous_id:u1",
        "user_id:U1",
        "u1",
        "user_id:",
        ":u1",
        "phone_number:+15555550123",
    ] {
        for route in ["traits", "external_ids", "links"] {
            let r = pget(&c, ident, route);
            assert_eq!(r.status, 404, "{ident} {route}");
            assert_eq!(r.json(), not_found, "{ident} {route}");
        }
    }
    // Unserved routes / collections: 404 not_found (a different message).
    for path in [
        ppath("user_id:u1", "events"),
        ppath("user_id:u1", "metadata"),
        format!("/v1/spaces/{SPACE}/collections/accounts/profiles/group_id:acme/traits"),
        format!("/v1/spaces/{SPACE}/collections/users/profiles"),
        format!("/v1/spaces/{SPACE}"),
    ] {
        let r = send_raw(
            c.port(),
            "GET",
            &path,
            &[("Authorization", &basic(TOKEN))],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["error"]["code"], "not_found", "{path}");
    }
    // Malformed escape in the identifier.
    let r = pget(&c, "user_id:%G1", "traits");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "invalid_request_error");
    // Only GET.
    let r = send_raw(
        c.port(),
        "POST",
        &ppath("user_id:u1", "traits"),
        &[("Authorization", &basic(TOKEN))],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
}

#[test]
fn auth_errors_are_401() {
    let c = start();
    let path = ppath("user_id:u1", "traits");
    let bearer = format!("Bearer {TOKEN}");
    let no_colon = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(TOKEN)
    );
    let with_password = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN}:pw"))
    );
    let wrong = basic("tok_other");
    let right = basic(TOKEN);
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        (path.clone(), vec![]),
        (path.clone(), vec![("Authorization", wrong.as_str())]),
        (path.clone(), vec![("Authorization", bearer.as_str())]),
        (path.clone(), vec![("Authorization", no_colon.as_str())]),
        (
            path.clone(),
            vec![("Authorization", with_password.as_str())],
        ),
        (path.clone(), vec![("Authorization", "Basic !!!")]),
        // Right token, wrong space: 401 as well.
        (
            path.replace("spa_test", "spa_other"),
            vec![("Authorization", right.as_str())],
        ),
    ];
    for (p, h) in &cases {
        let r = send_raw(c.port(), "GET", p, h, b"").unwrap();
        assert_eq!(r.status, 401, "{p} {h:?}");
        let v = r.json();
        assert_eq!(v["error"]["code"], "authentication_error");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);
    }
    // Auth is checked before the profile lookup.
    let r = send_raw(
        c.port(),
        "GET",
        &ppath("user_id:nobody", "traits"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 401);
    // Scheme is case-insensitive.
    let lower = basic(TOKEN).replace("Basic", "basic");
    assert_eq!(
        send_raw(c.port(), "GET", &path, &[("Authorization", &lower)], b"")
            .unwrap()
            .status,
        200
    );
    let recs = c.profile_requests();
    assert_eq!(recs.len(), cases.len() + 2);
    assert!(recs[..cases.len() + 1]
        .iter()
        .all(|r| !r.authorization_ok && r.status == 401));
    assert!(recs.last().unwrap().authorization_ok);

    // Fixture without token/space: any non-empty token and any space.
    c.set_profiles(json!({"profiles":[{"external_ids":[{"type":"user_id","id":"u1"}]}]}))
        .unwrap();
    let r = send_raw(
        c.port(),
        "GET",
        "/v1/spaces/whatever/collections/users/profiles/user_id:u1/traits",
        &[("Authorization", &basic("anything"))],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["traits"], json!({}));
    let r = send_raw(
        c.port(),
        "GET",
        "/v1/spaces/whatever/collections/users/profiles/user_id:u1/traits",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 401);
}

#[test]
fn scripted_429_then_200_and_scripts_are_separate() {
    let c = start();
    // A /v1 batch step that profile requests must not consume.
    c.script(vec![Step::status(500)]);
    let r = control(
        &c,
        "POST",
        "/_test/profile_script",
        br#"{"steps":[{"status":429,"retry_after":"2"},{"status":503}]}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ok": true, "pending": 2}));
    assert_eq!(
        control(&c, "GET", "/_test/profile_script", b"").json(),
        json!({"steps": [{"status":429,"retry_after":"2"},{"status":503}]})
    );
    let r = pget(&c, "user_id:u1", "traits");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.json()["error"]["code"], "rate_limit_error");
    let r = pget(&c, "user_id:u1", "traits");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(r.json()["error"]["code"], "server_error");
    let r = pget(&c, "user_id:u1", "traits?include=plan");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["traits"], json!({"plan": "pro"}));
    assert!(c.pending_profile_script().is_empty());
    assert_eq!(c.pending_script(), vec![Step::status(500)]);
    // Profile requests are not /v1 requests or messages.
    assert!(c.requests().is_empty());
    assert!(c.messages().is_empty());
    assert_eq!(
        control(&c, "GET", "/_test/count", b"").json(),
        json!({"count": 0, "requests": 0, "in_flight": 0, "max_concurrent": 0})
    );
    assert_eq!(
        control(&c, "GET", "/_test/requests", b"").json(),
        json!({"requests": []})
    );
    // And /v1/batch does not consume the profile script.
    c.script_profiles(vec![Step::status(429)]);
    let r = send_raw(
        c.port(),
        "POST",
        "/v1/batch",
        &[("Authorization", &basic("wk"))],
        br#"{"batch":[{"type":"track","event":"e","userId":"u"}]}"#,
    )
    .unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(c.pending_profile_script(), vec![Step::status(429)]);
    let statuses: Vec<u16> = c.profile_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 503, 200]);
    // Bad step JSON.
    let r = control(
        &c,
        "POST",
        "/_test/profile_script",
        br#"{"steps":[{"nope":1}]}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(c.pending_profile_script().len(), 1);
}

#[test]
fn scripted_delay_drop_and_hang() {
    let c = start();
    c.script_profiles(vec![
        Step::Status {
            code: 200,
            retry_after: None,
            delay_ms: 300,
        },
        Step::Drop,
        Step::Hang,
    ]);
    let t = Instant::now();
    let r = pget(&c, "user_id:u1", "traits?include=age");
    assert!(
        t.elapsed() >= Duration::from_millis(290),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["traits"], json!({"age": 42}));
    // Drop: connection closed without a response.
    let auth = basic(TOKEN);
    assert!(send_raw(
        c.port(),
        "GET",
        &ppath("user_id:u1", "traits"),
        &[("Authorization", &auth)],
        b""
    )
    .is_err());
    // Hang: holds its connection, other requests for the same identifier are answered.
    let port = c.port();
    let hung = std::thread::spawn(move || {
        send_raw(
            port,
            "GET",
            &ppath("user_id:u1", "traits"),
            &[("Authorization", &basic(TOKEN))],
            b"",
        )
        .map(|r| r.status)
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while c.profile_requests().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.profile_requests().len(), 3);
    let t = Instant::now();
    assert_eq!(pget(&c, "user_id:u1", "traits").status, 200);
    assert!(t.elapsed() < Duration::from_secs(1));
    let statuses: Vec<u16> = c.profile_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 0, 0, 200]);
    // Stopping releases the hung request.
    c.stop();
    assert!(hung.join().unwrap().is_err());
}

#[test]
fn concurrent_requests_for_one_identifier_are_all_answered() {
    let c = start();
    // Every request is delayed, so they overlap.
    c.script_profiles(
        (0..16)
            .map(|_| Step::Status {
                code: 200,
                retry_after: None,
                delay_ms: 200,
            })
            .collect(),
    );
    let url = format!(
        "{}{}",
        c.url(),
        ppath("anonymous_id:a1", "traits?include=plan")
    );
    let t = Instant::now();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut resp = agent()
                    .get(&url)
                    .header("Authorization", &basic(TOKEN))
                    .call()
                    .unwrap();
                let status = resp.status().as_u16();
                let body: Value =
                    serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
                (status, body)
            })
        })
        .collect();
    for h in handles {
        let (s, body) = h.join().unwrap();
        assert_eq!(s, 200);
        assert_eq!(body["traits"], json!({"plan": "pro"}));
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(c.profile_requests().len(), 16);
}

#[test]
fn requests_are_recorded_and_reset_keeps_fixture() {
    let c = start();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    pget(
        &c,
        "phone_number:%2B5555550123",
        "traits?include=plan&limit=5",
    );
    pget(&c, "user_id:nobody", "external_ids");
    send_raw(
        c.port(),
        "GET",
        &ppath("user_id:u1", "links"),
        &[("Authorization", &basic("bad"))],
        b"",
    )
    .unwrap();
    let recs = c.profile_requests();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].method, "GET");
    assert_eq!(
        recs[0].path,
        ppath("phone_number:%2B5555550123", "traits?include=plan&limit=5")
    );
    assert_eq!(recs[0].identifier, "phone_number:+5555550123");
    assert_eq!(recs[0].route, "traits");
    assert_eq!(recs[0].status, 200);
    assert!(recs[0].authorization_ok);
    assert!(recs[0].received_at_ms >= before && recs[0].received_at_ms <= before + 10_000);
    assert_eq!(
        (
            recs[1].route.as_str(),
            recs[1].status,
            recs[1].identifier.as_str()
        ),
        ("external_ids", 404, "user_id:nobody")
    );
    assert_eq!(
        (
            recs[2].route.as_str(),
            recs[2].status,
            recs[2].authorization_ok
        ),
        ("links", 401, false)
    );

    // Control route: same records.
    let v = control(&c, "GET", "/_test/profile_requests", b"").json();
    let list = v["requests"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    for (j, r) in list.iter().zip(&recs) {
        assert_eq!(&ProfileRequest::from_json(j).unwrap(), r);
        assert_eq!(j, &r.to_json());
    }
    for k in [
        "method",
        "path",
        "identifier",
        "route",
        "status",
        "authorization_ok",
        "received_at_ms",
    ] {
        assert!(list[0].get(k).is_some(), "missing {k}");
    }

    // reset clears records and the profile script, keeps the fixture.
    c.script_profiles(vec![Step::status(503)]);
    assert_eq!(
        control(&c, "POST", "/_test/reset", b"").json(),
        json!({"ok": true})
    );
    assert!(c.profile_requests().is_empty());
    assert!(c.pending_profile_script().is_empty());
    assert_eq!(pget(&c, "user_id:u1", "traits").status, 200);
    c.reset();
    assert!(c.profile_requests().is_empty());
    assert_eq!(pget(&c, "user_id:u1", "traits").status, 200);
}

#[test]
fn fixture_control_route_and_validation() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    // No fixture: no profiles, any token.
    assert_eq!(pget(&c, "user_id:u1", "traits").status, 404);
    let r = control(&c, "POST", "/_test/profiles", FIXTURE.as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ok": true, "profiles": 2}));
    // Document key order kept through the control route.
    assert!(pget(&c, "user_id:u1", "traits?limit=2")
        .text()
        .starts_with(r#"{"traits":{"plan":"pro","age":42},"#));
    let v = control(&c, "GET", "/_test/profiles", b"").json();
    assert_eq!(v["space_id"], "spa_test");
    assert_eq!(v["access_token_set"], true);
    assert_eq!(v["profiles"], 2);
    assert_eq!(v["identifiers"].as_array().unwrap().len(), 5);

    let bad = [
        "not json",
        r#"[]"#,
        r#"{"profile":[]}"#,
        r#"{"profiles":[{"external_ids":[]}]}"#,
        r#"{"profiles":[{"external_ids":[{"id":"u1"}]}]}"#,
        r#"{"profiles":[{"external_ids":[{"type":"user:id","id":"u1"}]}]}"#,
        r#"{"profiles":[{"external_ids":[{"type":"user_id","id":""}]}]}"#,
        r#"{"profiles":[{"external_ids":[{"type":"user_id","id":"u1"}],"trait":{}}]}"#,
        r#"{"profiles":[{"external_ids":[{"type":"user_id","id":"u1"}],"traits":[1]}]}"#,
        r#"{"profiles":[{"external_ids":[{"type":"user_id","id":"u1"}]},{"external_ids":[{"type":"user_id","id":"u1"}]}]}"#,
        r#"{"profiles":[{"external_ids":[{"type":"user_id","id":"u1"}],"traits":{"a":1,"a":2}}]}"#,
        r#"{"access_token":"","profiles":[]}"#,
    ];
    for b in bad {
        let r = control(&c, "POST", "/_test/profiles", b.as_bytes());
        assert_eq!(r.status, 400, "{b}");
        assert_eq!(r.json()["ok"], false, "{b}");
        assert!(c.set_profiles_json(b).is_err(), "{b}");
    }
    // The old fixture is still served.
    assert_eq!(pget(&c, "user_id:u1", "traits").status, 200);
    assert!(c.set_profiles(json!({"profiles": 3})).is_err());
}

#[test]
fn binary_loads_profiles_file() {
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!(
        "flagwire-collector-profiles-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("profiles.json");
    std::fs::write(&file, FIXTURE).unwrap();
    let file_arg = file.to_str().unwrap();
    let (mut child, mut out, port) = spawn_binary(&["--port", "0", "--profiles", file_arg]);
    let r = send_raw(
        port,
        "GET",
        &ppath("anonymous_id:a1", "traits?include=plan"),
        &[("Authorization", &basic(TOKEN))],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["traits"], json!({"plan": "pro"}));
    child.kill().unwrap();
    child.wait().unwrap();
    // Profile requests are never printed.
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");

    std::fs::write(&file, r#"{"profiles":[{"external_ids":[]}]}"#).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .args(["--port", "0", "--profiles"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    let status = Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .args(["--profiles", "/nonexistent/profiles.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
