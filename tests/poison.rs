//! One bad message never costs the others (issue 12 item 2): when the receiver refuses a batch
//! (400/413) because of one message, the batch is split until only that message fails, in about
//! log2(n) extra requests, and the stats say how many were isolated that way.

mod common;

use common::*;
use serde_json::json;

fn client_for(col: &Collector, batch: usize) -> TestClient {
    TestClient::new(&config(&col.url(), json!({"batch_size": batch, "flush_interval_ms": 60_000})))
}

fn track(user: &str, tag: &str) -> String {
    json!({"type": "track", "userId": user, "event": "Order Completed", "properties": {"tag": tag}}).to_string()
}

#[test]
fn one_refused_message_fails_alone_in_log2_n_extra_requests() {
    let col = collector();
    col.refuse_messages_containing(Some("POISON"));
    let client = client_for(&col, 64);
    for i in 0..64 {
        let tag = if i == 37 { "POISON" } else { "ok" };
        assert_eq!(client.enqueue(&track(&format!("u{i}"), tag)), Status::Ok);
    }
    assert_eq!(client.flush(10_000), Status::Ok);
    let users: std::collections::HashSet<String> =
        col.messages().iter().map(|m| m["userId"].as_str().unwrap().to_string()).collect();
    assert_eq!(users.len(), 63, "every other message arrives");
    assert!(!users.contains("u37"));
    let stats = client.stats();
    assert_eq!((stat(&stats, "delivered"), stat(&stats, "failed"), stat(&stats, "isolated")), (63, 1, 1), "{stats}");
    assert_invariant(&stats);
    // 1 refused + at most log2(64) = 6 probes + 1 to confirm it alone + 1 for what was set aside.
    let n = col.requests().len();
    assert!(n <= 1 + 6 + 2, "{n} requests to isolate one message among 64");
    assert_eq!(stat(&stats, "retries"), 0, "a refusal is not retried as such");
}

#[test]
fn several_refused_messages_each_fail_alone_and_413_splits_too() {
    let col = collector();
    col.refuse_messages_containing(Some("POISON"));
    let client = client_for(&col, 40);
    let bad = [0usize, 13, 14, 39];
    for i in 0..40 {
        let tag = if bad.contains(&i) { "POISON" } else { "ok" };
        assert_eq!(client.enqueue(&track(&format!("s{i}"), tag)), Status::Ok);
    }
    assert_eq!(client.flush(10_000), Status::Ok);
    assert_eq!(col.messages().len(), 36);
    let stats = client.stats();
    assert_eq!((stat(&stats, "failed"), stat(&stats, "isolated")), (4, 4), "{stats}");
    assert_invariant(&stats);

    // A 413 from a proxy in front of the receiver is a refusal of the batch's size: split too.
    col.reset();
    col.refuse_messages_containing(None);
    col.script(vec![Step::status(413)]);
    for i in 0..8 {
        assert_eq!(client.enqueue(&track(&format!("big{i}"), "ok")), Status::Ok);
    }
    assert_eq!(client.flush(10_000), Status::Ok);
    // The suspect is confirmed alone before anything is dropped: nothing is lost to a transient 413.
    assert_eq!(col.messages().len(), 8);
    assert_eq!(stat(&client.stats(), "isolated"), 4, "no new isolation");
}
