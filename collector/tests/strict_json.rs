//! Strict JSON over real HTTP (issue 12 item 2): by default a batch holding a number outside the
//! f64 range, a lone surrogate escape or a duplicate key anywhere is refused whole with 400, as
//! strict Segment-compatible receivers do; `lenient_json` / `--lenient-json` accepts it.

mod common;

use common::{agent, spawn_binary, ureq_get, ureq_post};
use flagwire_collector::{Collector, CollectorOptions};

/// Poisoned messages as raw JSON text (serde_json's `Value` cannot even hold some of them), with
/// the words the 400 answer must contain.
const POISON: [(&str, &str); 6] = [
    (
        r#"{"type":"track","event":"E","userId":"p","properties":{"amount":1e400}}"#,
        "number out of range",
    ),
    (
        r#"{"type":"track","event":"E","userId":"p","properties":{"n":[-2e308]}}"#,
        "number out of range",
    ),
    (
        r#"{"type":"track","event":"E","userId":"p","properties":{"name":"\ud800"}}"#,
        "surrogate",
    ),
    (
        r#"{"type":"track","event":"E","userId":"p","properties":{"\udc00x":1}}"#,
        "surrogate",
    ),
    (
        r#"{"type":"track","event":"E","userId":"p","properties":{"plan":"a","plan":"b"}}"#,
        "duplicate key \"plan\"",
    ),
    (
        r#"{"type":"track","event":"E","userId":"p","context":{"traits":{"x":{"k":1,"k":2}}}}"#,
        "duplicate key \"k\"",
    ),
];

fn good(i: usize) -> String {
    format!(
        r#"{{"type":"track","event":"E","userId":"u{i}","messageId":"g{i}","properties":{{"n":{i}}}}}"#
    )
}

/// Two good messages around the poisoned one.
fn batch_with(poison: &str) -> Vec<u8> {
    format!(r#"{{"batch":[{},{poison},{}]}}"#, good(1), good(2)).into_bytes()
}

#[test]
fn strict_by_default_refuses_the_whole_batch_naming_the_problem() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    let a = agent();
    for (poison, why) in POISON {
        let r = ureq_post(&a, &c.url(), "/v1/batch", &batch_with(poison));
        assert_eq!(r.status, 400, "{poison}");
        let err = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            err.starts_with("message 1: ") && err.contains(why),
            "{poison}: {err}"
        );
    }
    assert_eq!(
        c.message_count(),
        0,
        "nothing of a refused batch is accepted"
    );
    let statuses: Vec<u16> = c.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![400; POISON.len()]);
    // The same batch without the poison is fine.
    let clean = format!(r#"{{"batch":[{},{}]}}"#, good(1), good(2));
    assert_eq!(
        ureq_post(&a, &c.url(), "/v1/batch", clean.as_bytes()).status,
        200
    );
    assert_eq!(c.message_count(), 2);
}

#[test]
fn strict_single_message_paths() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    let a = agent();
    for (body, why) in [
        (
            r#"{"event":"E","userId":"u","properties":{"a":1,"a":1}}"#,
            "duplicate key \"a\"",
        ),
        (
            r#"{"event":"E","userId":"u","properties":{"a":1e999}}"#,
            "number out of range",
        ),
        (
            r#"{"event":"E","userId":"u","properties":{"a":"\udbff"}}"#,
            "surrogate",
        ),
    ] {
        let r = ureq_post(&a, &c.url(), "/v1/track", body.as_bytes());
        assert_eq!(r.status, 400, "{body}");
        assert!(
            r.json()["error"].as_str().unwrap().contains(why),
            "{body}: {}",
            r.text()
        );
    }
    assert_eq!(c.message_count(), 0);
}

#[test]
fn lenient_json_accepts_them() {
    let c = Collector::start(CollectorOptions {
        lenient_json: true,
        ..Default::default()
    })
    .unwrap();
    let a = agent();
    for (poison, _) in POISON {
        let r = ureq_post(&a, &c.url(), "/v1/batch", &batch_with(poison));
        assert_eq!(r.status, 200, "{poison}: {}", r.text());
    }
    assert_eq!(c.message_count(), 3 * POISON.len());
    // Accepted as sent (raw text).
    let all = ureq_get(&a, &c.url(), "/_test/messages").text();
    assert!(all.contains(r#""amount":1e400"#) && all.contains(r#""plan":"a","plan":"b""#));
    // A duplicate key is accepted on a single-message path too.
    let r = ureq_post(
        &a,
        &c.url(),
        "/v1/track",
        br#"{"event":"E","userId":"u","properties":{"a":1,"a":2}}"#,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn binary_lenient_json_flag() {
    let poison = batch_with(POISON[4].0);
    let (mut strict, _o1, p1) = spawn_binary(&["--port", "0", "--quiet"]);
    let (mut lenient, _o2, p2) = spawn_binary(&["--port", "0", "--quiet", "--lenient-json"]);
    let a = agent();
    assert_eq!(
        ureq_post(&a, &format!("http://127.0.0.1:{p1}"), "/v1/batch", &poison).status,
        400
    );
    assert_eq!(
        ureq_post(&a, &format!("http://127.0.0.1:{p2}"), "/v1/batch", &poison).status,
        200
    );
    for child in [&mut strict, &mut lenient] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
