//! Values that strict receivers refuse never leave flagwire, on any path (issue 12, items 2 and 7):
//! numbers outside the double range, lone surrogate escapes and duplicate keys. On the exposure
//! paths only the bad attribute is dropped (and counted), so the exposure still arrives; on
//! `flagwire_enqueue` the message is refused. The user's numbers go out digit for digit.
//!
//! The bytes are read back from the collector's `/_test/messages` route, which returns every
//! accepted message exactly as it was sent, and checked with a strict parser written here.

mod common;

use common::*;
use serde_json::{json, Value};

/// Every accepted message as the collector received it, read over HTTP.
fn raw_messages(col: &Collector) -> String {
    let mut response = ureq::get(format!("{}/_test/messages", col.url())).call().expect("GET /_test/messages");
    response.body_mut().read_to_string().expect("body")
}

fn assert_strict(raw: &str) {
    if let Err(e) = flagwire_collector::check_strict_json(raw.as_bytes()) {
        panic!("the collector received JSON a strict receiver refuses ({e}): {raw}");
    }
}

const POISON: &str = r#"{"plan":"pro","big":1e400,"name":"\ud800","deep":{"x":[-1E999]},"dup":1,"dup":2,"order_id":12345678901234567890123}"#;
const KEPT: &str = r#""userAttributes":{"plan":"pro","dup":2,"order_id":12345678901234567890123}"#;

#[test]
fn fast_path_drops_only_the_attributes_strict_receivers_refuse() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.flag("before", "f", Some("r"), Some("v"), true, 1, Some(r#"{"plan":"free"}"#)), Status::Ok);
    assert_eq!(client.flag("poisoned", "f", Some("r"), Some("v"), true, 1, Some(POISON)), Status::Ok);
    // The call succeeds (the exposure goes out), so ABI 2 writes no out_error; the reason is the
    // client's last error (ABI 1) and a warning in the log, and the drop is counted.
    #[allow(deprecated)]
    let reason = take_string(unsafe { flagwire::ffi::flagwire_last_error(client.raw()) });
    assert!(reason.as_deref().unwrap_or("").contains("\"big\""), "{reason:?}");
    assert_eq!(client.flag("all-bad", "f", Some("r"), Some("v"), true, 1, Some(r#"{"x":1e999}"#)), Status::Ok);
    assert_eq!(client.flag("after", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    // Not JSON at all: the decision is refused, as before.
    assert_eq!(client.flag("broken", "f", Some("r"), Some("v"), true, 1, Some(r#"{"a":"#)), Status::InvalidJson);
    assert_eq!(client.flush(5000), Status::Ok);

    let raw = raw_messages(&col);
    assert_strict(&raw);
    assert!(raw.contains(KEPT), "{raw}");
    let msgs = wait_messages(&col, 4);
    let users: Vec<&str> = msgs.iter().map(|m| m["userId"].as_str().unwrap()).collect();
    assert_eq!(users, ["before", "poisoned", "all-bad", "after"]);
    assert!(msgs[2]["properties"].get("userAttributes").is_none(), "every attribute was dropped: {}", msgs[2]);
    let stats = client.stats();
    assert_eq!(stat(&stats, "dropped_attributes"), 5, "big, name, deep, the first dup, x: {stats}");
    assert_eq!(stat(&stats, "dropped_invalid"), 1, "{stats}");
    assert_eq!(stat(&stats, "delivered"), 4);
    assert_invariant(&stats);
}

#[test]
fn json_path_drops_only_the_attributes_strict_receivers_refuse() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let notification = |user: &str, attributes: &str| {
        format!(r#"{{"type":"flag","userId":"{user}","attributes":{attributes},"decisionInfo":{{"flagKey":"f","ruleKey":"r","variationKey":"v","enabled":true,"decisionEventDispatched":true,"variables":{{"n":1e400}}}}}}"#)
    };
    assert_eq!(client.decision(&notification("good", r#"{"plan":"free"}"#)), Status::Ok);
    assert_eq!(client.decision(&notification("poisoned", POISON)), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let raw = raw_messages(&col);
    assert_strict(&raw);
    assert!(raw.contains(KEPT), "{raw}");
    assert_eq!(wait_messages(&col, 2).len(), 2);
    let stats = client.stats();
    assert_eq!(stat(&stats, "dropped_attributes"), 4, "{stats}");
    assert_eq!(stat(&stats, "dropped_invalid"), 0, "{stats}");
    assert_invariant(&stats);
}

#[test]
fn enqueue_refuses_values_strict_receivers_refuse() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let bad = [
        (r#"{"type":"track","userId":"u","event":"E","properties":{"amount":1e400}}"#, "double range"),
        (r#"{"type":"track","userId":"u","event":"E","properties":{"name":"\udc00"}}"#, "surrogate"),
        (r#"{"type":"track","userId":"u","event":"E","properties":{"a":1,"a":2}}"#, "duplicate key"),
        (r#"{"type":"identify","userId":"u","traits":{"t":{"k":1,"\u006b":2}}}"#, "duplicate key"),
        (r#"{"type":"track","userId":"u","userId":"v","event":"E"}"#, "duplicate key"),
    ];
    for (i, (message, why)) in bad.iter().enumerate() {
        assert_eq!(client.enqueue(message), Status::InvalidJson, "{message}");
        let error = client.last_error().unwrap();
        assert!(error.contains(why), "{message}: {error}");
        assert_eq!(stat(&client.stats(), "dropped_invalid"), i as u64 + 1);
    }
    assert_eq!(client.enqueue(r#"{"type":"track","userId":"u","event":"Fine","properties":{"a":[{"k":1},{"k":1}]}}"#), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_strict(&raw_messages(&col));
    let msgs = wait_messages(&col, 1);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["event"], "Fine");
}

#[test]
fn enqueue_keeps_numbers_exactly() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let numbers = r#"{"order_id":12345678901234567890123,"price":0.1000000000000000055511151231257827,"qty":1.10,"neg":-0,"e":1E5,"small":4.9e-324,"max":1.7976931348623157e308}"#;
    let message = format!(
        r#"{{"type":"track", "userId":"u1", "event":"Order Completed",
            "properties": {numbers},
            "context": {{"ip": "10.0.0.1", "nested": {{"n": 98765432109876543210}}}}}}"#
    );
    assert_eq!(client.enqueue(&message), Status::Ok, "{:?}", client.last_error());
    // A message that brings its own ids, timestamp and library keeps them.
    let own = r#"{"type":"identify","anonymousId":"a1","messageId":"m-1","timestamp":"2020-01-01T00:00:00.000Z","context":{"library":{"name":"mine","version":"9"}},"traits":{"n":18446744073709551616}}"#;
    assert_eq!(client.enqueue(own), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);

    let raw = raw_messages(&col);
    assert_strict(&raw);
    assert!(raw.contains(&format!(r#""properties":{numbers}"#)), "numbers changed: {raw}");
    assert!(raw.contains(r#""nested":{"n":98765432109876543210}"#), "{raw}");
    assert!(raw.contains(r#""traits":{"n":18446744073709551616}"#), "{raw}");
    let msgs = wait_messages(&col, 2);
    let m = &msgs[0];
    assert_eq!(m["context"]["ip"], "10.0.0.1");
    assert_eq!(m["context"]["library"], json!({"name": "flagwire", "version": env!("CARGO_PKG_VERSION")}));
    assert_eq!(uuid::Uuid::parse_str(m["messageId"].as_str().unwrap()).unwrap().get_version_num(), 4);
    assert_eq!(m["timestamp"].as_str().unwrap().len(), 24);
    assert_eq!((msgs[1]["messageId"].as_str(), msgs[1]["timestamp"].as_str()), (Some("m-1"), Some("2020-01-01T00:00:00.000Z")));
    assert_eq!(msgs[1]["context"]["library"]["name"], "mine");
    let stats = client.stats();
    assert_eq!(stat(&stats, "delivered"), 2);
    assert_invariant(&stats);
    let _: Value = serde_json::from_str(&raw).unwrap();
}
