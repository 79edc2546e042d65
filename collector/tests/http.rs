//! The collector over real HTTP on 127.0.0.1: a tiny raw HTTP/1.1 client (full control of the
//! connection) plus ureq as an independent real client.

mod common;

use common::{agent, basic, spawn_binary, Resp};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use flagwire_collector::{
    format_line, Collector, CollectorOptions, RequestRecord, Step, MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
};
use serde_json::{json, Value};

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------


/// One keep-alive connection.
struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(c: &Collector) -> Conn {
        let w = TcpStream::connect(("127.0.0.1", c.port())).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        Conn { w, r }
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Resp> {
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
        self.w.write_all(&bytes)?;
        self.read_response()
    }

    fn read_response(&mut self) -> std::io::Result<Resp> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
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
        self.r.read_exact(&mut body)?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }
}


/// POST on a fresh connection with Basic auth `key`.
fn post(c: &Collector, path: &str, body: &[u8], extra: &[(&str, &str)]) -> Resp {
    let auth = basic("key");
    let mut h = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    h.extend_from_slice(extra);
    Conn::open(c).send("POST", path, &h, body).unwrap()
}

fn get(c: &Collector, path: &str) -> Resp {
    Conn::open(c).send("GET", path, &[], b"").unwrap()
}

fn track(i: usize) -> Value {
    json!({"type":"track","event":"Experiment Viewed","userId":format!("user-{i}"),"messageId":format!("m-{i}"),
           "properties":{"flagKey":"f","ruleKey":"r","variationKey":"v"}})
}

fn batch(msgs: Vec<Value>) -> Vec<u8> {
    json!({"batch": msgs, "sentAt": "2024-01-01T00:00:00.000Z"})
        .to_string()
        .into_bytes()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn start() -> Collector {
    Collector::start(CollectorOptions::default()).unwrap()
}


/// A track message whose compact JSON is exactly `size` bytes.
fn message_of_size(size: usize) -> Value {
    let mut m = json!({"type":"track","event":"e","userId":"u","properties":{"pad":""}});
    let base = serde_json::to_string(&m).unwrap().len();
    m["properties"]["pad"] = json!("x".repeat(size - base));
    assert_eq!(serde_json::to_string(&m).unwrap().len(), size);
    m
}

/// A batch body of exactly `size` bytes (padding in a top-level field).
fn batch_body_of_size(size: usize) -> Vec<u8> {
    let msgs: Vec<Value> = (0..20).map(|_| message_of_size(20_000)).collect();
    let mut doc = json!({"batch": msgs, "pad": ""});
    let base = doc.to_string().len();
    doc["pad"] = json!("y".repeat(size - base));
    let b = doc.to_string().into_bytes();
    assert_eq!(b.len(), size);
    b
}

// ------------------------------------------------------------------------------------------
// tests
// ------------------------------------------------------------------------------------------

#[test]
fn accepts_batch_and_records_request() {
    let c = start();
    assert!(c.url().starts_with("http://127.0.0.1:") && !c.url().ends_with('/'));
    let r = post(
        &c,
        "/v1/batch",
        &batch(vec![track(1), track(2)]),
        &[("User-Agent", "t/1"), ("X-Retry-Count", "0")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"success": true}));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let msgs = c.messages();
    assert_eq!(msgs, vec![track(1), track(2)]);
    let reqs = c.requests();
    assert_eq!(reqs.len(), 1);
    let q = &reqs[0];
    assert_eq!(q.path, "/v1/batch");
    assert_eq!(q.status, 200);
    assert!(q.authorization_ok);
    assert_eq!(q.message_ids, vec!["m-1", "m-2"]);
    assert_eq!(q.sent_at.as_deref(), Some("2024-01-01T00:00:00.000Z"));
    assert_eq!(q.user_agent.as_deref(), Some("t/1"));
    assert_eq!(q.retry_count.as_deref(), Some("0"));
    assert_eq!(q.content_encoding, None);
    assert_eq!(q.body_bytes, q.decoded_bytes);
    assert!(q.received_at_ms > 1_600_000_000_000);
}

#[test]
fn single_message_paths_imply_type_and_import_is_batch() {
    let c = start();
    let r = post(
        &c,
        "/v1/track",
        br#"{"event":"E","anonymousId":"a","messageId":"s1"}"#,
        &[],
    );
    assert_eq!(r.status, 200);
    let r = post(
        &c,
        "/v1/identify",
        br#"{"userId":"u","traits":{"a":1}}"#,
        &[],
    );
    assert_eq!(r.status, 200);
    let r = post(&c, "/v1/import", &batch(vec![track(3)]), &[]);
    assert_eq!(r.status, 200);
    // Explicit type contradicting the path is a client bug.
    let r = post(
        &c,
        "/v1/page",
        br#"{"type":"track","event":"E","userId":"u"}"#,
        &[],
    );
    assert_eq!(r.status, 400);
    let m = c.messages();
    assert_eq!(m[0]["type"], "track");
    assert_eq!(m[1]["type"], "identify");
    assert_eq!(m[2], track(3));
    assert_eq!(c.requests()[0].message_ids, vec!["s1"]);
    // Unknown /v1 path, GET on /v1/batch.
    assert_eq!(post(&c, "/v1/nope", b"{}", &[]).status, 404);
    assert_eq!(get(&c, "/v1/batch").status, 405);
    assert_eq!(get(&c, "/elsewhere").status, 404);
}

#[test]
fn auth_refusal() {
    let c = Collector::start(CollectorOptions {
        write_keys: vec!["good".into()],
        ..Default::default()
    })
    .unwrap();
    let body = batch(vec![track(1)]);
    let auth_bad = basic("bad");
    let r = Conn::open(&c)
        .send("POST", "/v1/batch", &[("Authorization", &auth_bad)], &body)
        .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["success"], false);
    // No credentials at all.
    let r = Conn::open(&c)
        .send("POST", "/v1/batch", &[], &body)
        .unwrap();
    assert_eq!(r.status, 401);
    // Empty key.
    let r = Conn::open(&c)
        .send("POST", "/v1/batch", &[("Authorization", &basic(""))], &body)
        .unwrap();
    assert_eq!(r.status, 401);
    assert!(c.messages().is_empty());
    let reqs = c.requests();
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![401, 401, 401]
    );
    assert!(reqs.iter().all(|r| !r.authorization_ok));
    // Good key in the header, and in the body.
    let r = Conn::open(&c)
        .send(
            "POST",
            "/v1/batch",
            &[("Authorization", &basic("good"))],
            &body,
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let body_key = json!({"batch":[track(2)], "writeKey":"good"}).to_string();
    let r = Conn::open(&c)
        .send("POST", "/v1/batch", &[], body_key.as_bytes())
        .unwrap();
    assert_eq!(r.status, 200);
    // Basic without the colon is tolerated.
    let nocolon = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("good")
    );
    let r = Conn::open(&c)
        .send("POST", "/v1/batch", &[("Authorization", &nocolon)], &body)
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(c.messages().len(), 3);

    // Open collector: any non-empty key.
    let open = start();
    let r = Conn::open(&open)
        .send(
            "POST",
            "/v1/batch",
            &[("Authorization", &basic("anything"))],
            &body,
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let r = Conn::open(&open)
        .send("POST", "/v1/batch", &[], &body)
        .unwrap();
    assert_eq!(r.status, 401);
}

#[test]
fn gzip_bodies_are_decoded_and_bad_bodies_refused() {
    let c = start();
    let raw = batch((0..100).map(track).collect());
    let gz = gzip(&raw);
    let r = post(&c, "/v1/batch", &gz, &[("Content-Encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(c.messages().len(), 100);
    let q = &c.requests()[0];
    assert_eq!(q.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(q.body_bytes, gz.len());
    assert_eq!(q.decoded_bytes, raw.len());
    assert_eq!(q.message_ids.len(), 100);

    let r = post(
        &c,
        "/v1/batch",
        b"not gzip at all",
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["success"], false);
    assert!(r.json()["error"].as_str().unwrap().contains("gzip"));
    let r = post(&c, "/v1/batch", b"{not json", &[]);
    assert_eq!(r.status, 400);
    let r = post(
        &c,
        "/v1/batch",
        &gzip(b"{not json"),
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(r.status, 400);
    for body in [
        &br#"{"nobatch":[]}"#[..],
        br#"{"batch":{}}"#,
        br#"{"batch":null}"#,
        br#"{"batch":"x"}"#,
        b"[]",
        b"7",
    ] {
        let r = post(&c, "/v1/batch", body, &[]);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(r.json()["success"], false);
    }
    // Trailing garbage after the JSON document.
    assert_eq!(post(&c, "/v1/batch", br#"{"batch":[]} x"#, &[]).status, 400);
    assert_eq!(c.messages().len(), 100);
}

#[test]
fn batch_body_limit_is_500000_decoded_bytes() {
    let c = start();
    let ok = batch_body_of_size(MAX_BATCH_BYTES);
    assert_eq!(post(&c, "/v1/batch", &ok, &[]).status, 200);
    assert_eq!(c.messages().len(), 20);
    let over = batch_body_of_size(MAX_BATCH_BYTES + 1);
    let r = post(&c, "/v1/batch", &over, &[]);
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("too large"));
    // The limit applies to the decoded size, not the gzip'd size.
    let r = post(
        &c,
        "/v1/batch",
        &gzip(&over),
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        post(&c, "/v1/batch", &gzip(&ok), &[("Content-Encoding", "gzip")]).status,
        200
    );
    assert_eq!(c.messages().len(), 40);
    assert_eq!(c.requests()[1].decoded_bytes, MAX_BATCH_BYTES + 1);
}

#[test]
fn message_limit_is_32000_compact_bytes() {
    let c = start();
    let ok = message_of_size(MAX_MESSAGE_BYTES);
    assert_eq!(
        post(&c, "/v1/batch", &batch(vec![track(1), ok.clone()]), &[]).status,
        200
    );
    assert_eq!(c.messages().len(), 2);
    // One oversized message refuses the whole request.
    let big = message_of_size(MAX_MESSAGE_BYTES + 1);
    let r = post(&c, "/v1/batch", &batch(vec![track(2), big.clone()]), &[]);
    assert_eq!(r.status, 400);
    assert_eq!(c.messages().len(), 2);
    // Pretty-printed (non-compact) bodies are measured compact.
    let pretty = serde_json::to_vec_pretty(&json!({"batch":[ok.clone()]})).unwrap();
    assert_eq!(post(&c, "/v1/batch", &pretty, &[]).status, 200);

    // Numbers can grow when re-serialised compactly: 1e15 -> 1000000000000000.0. The limit is on
    // serde_json's compact form, so a raw 12 KB message can be over it.
    let nums = vec!["1e15"; 2000].join(",");
    let grow =
        format!(r#"{{"type":"track","event":"e","userId":"u","properties":{{"n":[{nums}]}}}}"#);
    assert!(grow.len() < 12_000);
    let r = post(
        &c,
        "/v1/batch",
        format!(r#"{{"batch":[{grow}]}}"#).as_bytes(),
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("too large"));

    // Single-message paths: the body itself may be at most 32,000 bytes.
    let single_ok = serde_json::to_vec(&ok).unwrap();
    assert_eq!(single_ok.len(), MAX_MESSAGE_BYTES);
    assert_eq!(post(&c, "/v1/track", &single_ok, &[]).status, 200);
    let single_big = serde_json::to_vec(&big).unwrap();
    assert_eq!(post(&c, "/v1/track", &single_big, &[]).status, 400);
    let mut padded = single_ok.clone();
    padded.push(b' '); // 32,001 bytes of body, even though the message is 32,000 compact
    assert_eq!(post(&c, "/v1/track", &padded, &[]).status, 400);
    assert_eq!(c.messages().len(), 4);
}

#[test]
fn more_than_2500_messages_answers_200_but_accepts_nothing() {
    let c = start();
    let small =
        |i: usize| json!({"type":"track","event":"e","userId":"u","messageId":format!("{i}")});
    let r = post(&c, "/v1/batch", &batch((0..2501).map(small).collect()), &[]);
    assert_eq!(r.status, 200);
    assert!(c.messages().is_empty());
    let q = &c.requests()[0];
    assert_eq!(q.status, 200);
    assert_eq!(q.message_ids.len(), 2501);
    let r = post(&c, "/v1/batch", &batch((0..2500).map(small).collect()), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(c.messages().len(), 2500);
    assert_eq!(c.message_count(), 2500);
}

#[test]
fn strict_message_validation() {
    let c = start();
    let cases = [
        json!({"event":"e","userId":"u"}),   // no type
        json!({"type":"track","event":"e"}), // no ids
        json!({"type":"track","event":"e","userId":null,"anonymousId":""}),
        json!({"type":"track","userId":"u"}), // track without event
        json!({"type":"bogus","userId":"u"}), // unknown type
        json!("not an object"),
    ];
    for m in cases {
        let r = post(&c, "/v1/batch", &batch(vec![track(1), m.clone()]), &[]);
        assert_eq!(r.status, 400, "{m}");
        assert_eq!(r.json()["success"], false);
        assert!(r.json()["error"].is_string());
    }
    assert!(c.messages().is_empty());
    // anonymousId alone, null userId (as analytics-python sends) is fine; so is a numeric userId.
    let ok = vec![
        json!({"type":"track","event":"e","userId":null,"anonymousId":"a"}),
        json!({"type":"identify","userId":42}),
        json!({"type":"alias","userId":"u","previousId":"p"}),
    ];
    assert_eq!(post(&c, "/v1/batch", &batch(ok), &[]).status, 200);
    assert_eq!(c.messages().len(), 3);
}

#[test]
fn scripted_503_then_success_and_retry_after() {
    let c = start();
    c.script(vec![
        Step::status(503),
        Step::Status {
            code: 429,
            retry_after: Some("7".into()),
            delay_ms: 0,
        },
    ]);
    let body = batch(vec![track(1)]);
    let a = agent();
    let send = |retry: &str| {
        let mut r = a
            .post(format!("{}/v1/batch", c.url()))
            .header("Authorization", basic("key"))
            .header("X-Retry-Count", retry)
            .send(&body[..])
            .unwrap();
        let status = r.status().as_u16();
        let ra = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = r.body_mut().read_to_string().unwrap();
        (status, ra, text)
    };
    let (s, ra, text) = send("0");
    assert_eq!((s, ra), (503, None));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["success"],
        false
    );
    let (s, ra, _) = send("1");
    assert_eq!((s, ra.as_deref()), (429, Some("7")));
    let (s, _, text) = send("2");
    assert_eq!(s, 200);
    assert_eq!(text, r#"{"success":true}"#);
    assert_eq!(c.messages().len(), 1);
    let reqs = c.requests();
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 429, 200]
    );
    assert_eq!(
        reqs.iter()
            .map(|r| r.retry_count.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["0", "1", "2"]
    );
    // Refused requests still carry the message ids, so retries can be compared.
    assert!(reqs.iter().all(|r| r.message_ids == vec!["m-1"]));
    assert!(c.pending_script().is_empty());
}

#[test]
fn scripted_2xx_with_delay_processes_normally() {
    let c = start();
    c.script(vec![Step::Status {
        code: 200,
        retry_after: None,
        delay_ms: 300,
    }]);
    let t = Instant::now();
    let r = post(&c, "/v1/batch", &batch(vec![track(1)]), &[]);
    assert!(
        t.elapsed() >= Duration::from_millis(290),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.status, 200);
    assert_eq!(c.messages().len(), 1);
    // A 2xx step does not turn an invalid request into a success.
    c.script(vec![Step::status(200)]);
    assert_eq!(post(&c, "/v1/batch", b"{oops", &[]).status, 400);
    // Scripted steps are consumed by refused (401) requests too.
    c.script(vec![Step::status(500)]);
    let r = Conn::open(&c)
        .send("POST", "/v1/batch", &[], &batch(vec![track(2)]))
        .unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(c.messages().len(), 1);
}

#[test]
fn drop_closes_connection_without_response() {
    let c = start();
    c.script(vec![Step::Drop, Step::Drop]);
    // A real client sees a transport error, not a response.
    let res = agent()
        .post(format!("{}/v1/batch", c.url()))
        .header("Authorization", basic("key"))
        .send(&batch(vec![track(1)])[..]);
    assert!(
        res.is_err(),
        "expected a connection error, got {:?}",
        res.map(|r| r.status())
    );
    // The raw client sees EOF (or a reset) instead of a status line.
    let mut conn = Conn::open(&c);
    let res = conn.send(
        "POST",
        "/v1/batch",
        &[("Authorization", &basic("key"))],
        &batch(vec![track(2)]),
    );
    assert!(res.is_err());
    assert!(c.messages().is_empty());
    let reqs = c.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| r.status == 0));
    assert_eq!(reqs[1].message_ids, vec!["m-2"]);
    // Next request is served normally.
    assert_eq!(
        post(&c, "/v1/batch", &batch(vec![track(3)]), &[]).status,
        200
    );
    assert_eq!(c.messages().len(), 1);

    // Drop on a pooled (reused) ureq connection is an error too, not a silent retry.
    let a = agent();
    let send = |i: usize| {
        a.post(format!("{}/v1/batch", c.url()))
            .header("Authorization", basic("key"))
            .send(&batch(vec![track(i)])[..])
            .map(|r| r.status().as_u16())
    };
    assert_eq!(send(4).unwrap(), 200);
    c.script(vec![Step::Drop]);
    assert!(send(5).is_err());
    assert_eq!(send(6).unwrap(), 200);
    let statuses: Vec<u16> = c.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 0, 200, 200, 0, 200]);
}

#[test]
fn hang_does_not_block_other_requests_and_stop_releases_it() {
    let c = start();
    c.script(vec![Step::Hang]);
    let port = c.port();
    let hung = std::thread::spawn(move || {
        let w = TcpStream::connect(("127.0.0.1", port)).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut conn = Conn {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        };
        let res = conn.send(
            "POST",
            "/v1/batch",
            &[("Authorization", &basic("key"))],
            &batch(vec![track(1)]),
        );
        (res.map(|r| r.status), Instant::now())
    });
    // Wait until the hung request is recorded.
    let t = Instant::now();
    while c.requests().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "hung request never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.requests()[0].status, 0);
    // Other requests go through while one hangs.
    let t = Instant::now();
    for i in 0..5 {
        assert_eq!(
            post(&c, "/v1/batch", &batch(vec![track(10 + i)]), &[]).status,
            200
        );
    }
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(get(&c, "/_test/health").status, 200);
    assert!(!hung.is_finished());
    let stopped_at = Instant::now();
    c.stop();
    let (res, ended) = hung.join().unwrap();
    assert!(res.is_err(), "hung request got a response: {res:?}");
    assert!(ended.duration_since(stopped_at) < Duration::from_secs(3));
}

#[test]
fn stop_closes_listener_and_idle_connections() {
    let c = start();
    let port = c.port();
    let mut idle = Conn::open(&c);
    assert_eq!(
        idle.send("GET", "/_test/health", &[], b"").unwrap().status,
        200
    );
    c.stop();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "listener still open after stop"
    );
    // The idle keep-alive connection was closed too: a reuse fails instead of hanging.
    let res = idle.send("GET", "/_test/health", &[], b"");
    assert!(res.is_err());
}

#[test]
fn keep_alive_and_concurrency() {
    let c = start();
    // 200 requests on one connection.
    let mut conn = Conn::open(&c);
    let auth = basic("key");
    for i in 0..200 {
        let r = conn
            .send(
                "POST",
                "/v1/batch",
                &[("Authorization", &auth)],
                &batch(vec![track(i)]),
            )
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), None);
    }
    // Refusals keep the connection open as well.
    assert_eq!(
        conn.send("POST", "/v1/batch", &[], b"{}").unwrap().status,
        401
    );
    assert_eq!(
        conn.send("POST", "/v1/batch", &[("Authorization", &auth)], b"{x")
            .unwrap()
            .status,
        400
    );
    assert_eq!(
        conn.send("GET", "/_test/health", &[], b"").unwrap().status,
        200
    );
    // Connection: close is honoured.
    let r = conn
        .send("GET", "/_test/health", &[("Connection", "close")], b"")
        .unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.send("GET", "/_test/health", &[], b"").is_err());

    // ureq reuses its pooled connection.
    let a = agent();
    for i in 0..50 {
        let r = a
            .post(format!("{}/v1/batch", c.url()))
            .header("Authorization", &auth)
            .send(&batch(vec![track(i)])[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    // 8 threads x 50 requests at once.
    let url = c.url();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let a = agent();
                for i in 0..50 {
                    let body = batch(vec![track(t * 1000 + i), track(t * 1000 + i + 500)]);
                    let r = a
                        .post(format!("{url}/v1/batch"))
                        .header("Authorization", basic("key"))
                        .header("Content-Encoding", "gzip")
                        .send(&gzip(&body)[..])
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(c.wait_for_messages(200 + 50 + 800, Duration::from_secs(5)));
    assert_eq!(c.messages().len(), 1050);
    assert_eq!(c.requests().len(), 200 + 2 + 50 + 400);
}

#[test]
fn chunked_body_and_expect_continue() {
    let c = start();
    let body = batch(vec![track(1)]);
    let mut w = TcpStream::connect(("127.0.0.1", c.port())).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut conn = Conn {
        r: BufReader::new(w.try_clone().unwrap()),
        w: w.try_clone().unwrap(),
    };
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        basic("key")
    );
    w.write_all(head.as_bytes()).unwrap();
    let cont = conn.read_response().unwrap();
    assert_eq!(cont.status, 100);
    let (a, b) = body.split_at(10);
    for part in [a, b] {
        w.write_all(format!("{:x}\r\n", part.len()).as_bytes())
            .unwrap();
        w.write_all(part).unwrap();
        w.write_all(b"\r\n").unwrap();
    }
    w.write_all(b"0\r\n\r\n").unwrap();
    assert_eq!(conn.read_response().unwrap().status, 200);
    assert_eq!(c.messages(), vec![track(1)]);
}

#[test]
fn control_routes() {
    let c = start();
    assert_eq!(get(&c, "/_test/health").json(), json!({"ok": true}));
    assert_eq!(get(&c, "/_test/messages").json(), json!({"messages": []}));
    assert_eq!(get(&c, "/_test/requests").json(), json!({"requests": []}));

    // Script: all step kinds.
    let script = json!({"steps":[{"status":503},{"status":429,"retry_after":"1"},{"status":200,"delay_ms":50},{"drop":true},{"hang":true}]});
    let r = Conn::open(&c)
        .send("POST", "/_test/script", &[], script.to_string().as_bytes())
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["ok"], true);
    assert_eq!(
        c.pending_script(),
        vec![
            Step::status(503),
            Step::Status {
                code: 429,
                retry_after: Some("1".into()),
                delay_ms: 0
            },
            Step::Status {
                code: 200,
                retry_after: None,
                delay_ms: 50
            },
            Step::Drop,
            Step::Hang,
        ]
    );
    assert_eq!(get(&c, "/_test/script").json(), script);
    let bad = Conn::open(&c)
        .send("POST", "/_test/script", &[], br#"{"steps":[{"nope":1}]}"#)
        .unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["ok"], false);
    assert_eq!(c.pending_script().len(), 5);
    assert_eq!(
        Conn::open(&c)
            .send("POST", "/_test/reset", &[], b"")
            .unwrap()
            .json(),
        json!({"ok": true})
    );
    assert!(c.pending_script().is_empty());

    // wait: times out, then succeeds once messages arrive from another thread.
    let t = Instant::now();
    assert_eq!(
        get(&c, "/_test/wait?count=1&timeout_ms=100").json(),
        json!({"ok": false, "count": 0})
    );
    assert!(t.elapsed() >= Duration::from_millis(90));
    let url_port = c.port();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let w = TcpStream::connect(("127.0.0.1", url_port)).unwrap();
        let mut conn = Conn {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        };
        conn.send(
            "POST",
            "/v1/batch",
            &[("Authorization", &basic("k"))],
            &batch(vec![track(1), track(2)]),
        )
        .unwrap()
        .status
    });
    let t = Instant::now();
    assert_eq!(
        get(&c, "/_test/wait?count=2&timeout_ms=5000").json(),
        json!({"ok": true, "count": 2})
    );
    assert!(t.elapsed() < Duration::from_secs(4));
    assert_eq!(sender.join().unwrap(), 200);

    assert_eq!(
        get(&c, "/_test/messages").json(),
        json!({"messages": [track(1), track(2)]})
    );
    assert_eq!(
        get(&c, "/_test/count").json(),
        json!({"count": 2, "requests": 1, "in_flight": 0, "max_concurrent": 1})
    );
    let reqs = get(&c, "/_test/requests").json();
    let list = reqs["requests"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let rec = RequestRecord::from_json(&list[0]).unwrap();
    assert_eq!(rec, c.requests()[0]);
    assert_eq!(list[0]["message_ids"], json!(["m-1", "m-2"]));
    assert_eq!(list[0]["retry_count"], Value::Null);
    for k in [
        "path",
        "status",
        "retry_count",
        "content_encoding",
        "authorization_ok",
        "body_bytes",
        "decoded_bytes",
        "message_ids",
        "sent_at",
        "received_at_ms",
        "user_agent",
    ] {
        assert!(list[0].get(k).is_some(), "missing {k}");
    }

    Conn::open(&c)
        .send("POST", "/_test/reset", &[], b"")
        .unwrap();
    assert_eq!(get(&c, "/_test/messages").json(), json!({"messages": []}));
    assert_eq!(get(&c, "/_test/requests").json(), json!({"requests": []}));
    assert_eq!(get(&c, "/_test/nope").status, 404);
    // Control routes are not recorded and do not consume the script.
    c.script(vec![Step::status(500)]);
    get(&c, "/_test/health");
    assert!(c.requests().is_empty());
    assert_eq!(c.pending_script().len(), 1);
}

#[test]
fn wait_for_messages_is_bounded() {
    let c = start();
    let t = Instant::now();
    assert!(!c.wait_for_messages(1, Duration::from_millis(100)));
    assert!(t.elapsed() >= Duration::from_millis(90) && t.elapsed() < Duration::from_secs(2));
    post(&c, "/v1/batch", &batch(vec![track(1)]), &[]);
    assert!(c.wait_for_messages(1, Duration::from_millis(100)));
    c.reset();
    assert!(c.messages().is_empty() && c.requests().is_empty());
}

#[test]
fn step_and_record_json_round_trip() {
    for s in [
        Step::status(503),
        Step::Status {
            code: 429,
            retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
            delay_ms: 10,
        },
        Step::Redirect {
            code: 308,
            location: "http://127.0.0.1:1/v1/batch".into(),
        },
        Step::Drop,
        Step::Hang,
    ] {
        assert_eq!(Step::from_json(&s.to_json()).unwrap(), s);
    }
    assert_eq!(
        Step::from_json(&json!({"status":429,"retry_after":2})).unwrap(),
        Step::Status {
            code: 429,
            retry_after: Some("2".into()),
            delay_ms: 0
        }
    );
    assert!(Step::from_json(&json!({"status":"x"})).is_err());
    assert!(Step::from_json(&json!({})).is_err());
    assert!(Step::from_json(&json!({"redirect":200,"location":"x"})).is_err());
    assert!(Step::from_json(&json!({"redirect":307})).is_err());
    assert!(Step::from_json(&json!({"redirect":307,"location":""})).is_err());
    let r = RequestRecord {
        path: "/v1/batch".into(),
        status: 200,
        retry_count: Some("1".into()),
        content_encoding: Some("gzip".into()),
        authorization_ok: true,
        body_bytes: 10,
        decoded_bytes: 20,
        message_ids: vec!["a".into()],
        sent_at: None,
        received_at_ms: 5,
        user_agent: Some("ua".into()),
    };
    assert_eq!(RequestRecord::from_json(&r.to_json()).unwrap(), r);
}

#[test]
fn print_format() {
    let line = format_line(
        &json!({"type":"track","event":"Experiment Viewed","userId":"user-42",
                "properties":{"flagKey":"checkout_flow","ruleKey":"checkout_ab","variationKey":"treatment"}})
        .to_string(),
    );
    assert_eq!(
        line,
        r#"track  "Experiment Viewed"  userId=user-42  checkout_flow/checkout_ab -> treatment"#
    );
    let line = format_line(
        &json!({"type":"track","event":"Experiment Viewed","anonymousId":"a",
                "properties":{"experiment_name":"exp","variation_name":"var"}})
        .to_string(),
    );
    assert_eq!(
        line,
        r#"track  "Experiment Viewed"  anonymousId=a  exp -> var"#
    );
    let line = format_line(&json!({"type":"identify","userId":"u"}).to_string());
    assert!(line.starts_with("identify  userId=u  {"), "{line}");
}

#[test]
fn printing_never_blocks_requests() {
    // The binary prints by default; nobody reads its stdout pipe for a while, so the printer
    // thread blocks on a full pipe. Requests must still be answered promptly, and the skipped
    // lines are reported once the pipe drains.

    let (mut child, mut out, port) = spawn_binary(&["--port", "0"]);
    let w = TcpStream::connect(("127.0.0.1", port)).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut conn = Conn {
        r: BufReader::new(w.try_clone().unwrap()),
        w,
    };
    let body = gzip(&batch((0..2500).map(track).collect()));
    let auth = basic("key");
    let t = Instant::now();
    for _ in 0..12 {
        let r = conn
            .send(
                "POST",
                "/v1/batch",
                &[("Authorization", &auth), ("Content-Encoding", "gzip")],
                &body,
            )
            .unwrap();
        assert_eq!(r.status, 200);
    }
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(
        conn.send("GET", "/_test/count", &[], b"").unwrap().json()["count"],
        30_000
    );
    // Drain: within a bounded number of lines we must see the skip notice.
    let mut line = String::new();
    let mut seen = false;
    for _ in 0..40_000 {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.starts_with("... ") && line.trim_end().ends_with(" events not printed") {
            seen = true;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen, "no '... N events not printed' line");
}

#[test]
fn binary_prints_url_first_and_serves() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .args(["--port", "0", "--write-key", "wk"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let url = first.trim_end().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first:?}");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let w = TcpStream::connect(("127.0.0.1", port)).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut conn = Conn {
        r: BufReader::new(w.try_clone().unwrap()),
        w,
    };
    assert_eq!(
        conn.send("GET", "/_test/health", &[], b"").unwrap().json(),
        json!({"ok": true})
    );
    let body = batch(vec![
        json!({"type":"track","event":"Experiment Viewed","userId":"user-42",
        "properties":{"flagKey":"checkout_flow","ruleKey":"checkout_ab","variationKey":"treatment"}}),
    ]);
    assert_eq!(
        conn.send(
            "POST",
            "/v1/batch",
            &[("Authorization", &basic("wk"))],
            &body
        )
        .unwrap()
        .status,
        200
    );
    assert_eq!(
        conn.send(
            "POST",
            "/v1/batch",
            &[("Authorization", &basic("other"))],
            &body
        )
        .unwrap()
        .status,
        401
    );
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim_end(),
        r#"track  "Experiment Viewed"  userId=user-42  checkout_flow/checkout_ab -> treatment"#
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // --quiet prints only the URL.
    let mut child = Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .args(["--port=0", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("http://127.0.0.1:"));
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");

    let status = Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .arg("--bogus")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}

#[test]
fn collector_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Collector>();
    assert_send_sync::<RequestRecord>();
    assert_send_sync::<Step>();
}
