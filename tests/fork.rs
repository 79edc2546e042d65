//! Fork safety with no call from the user (docs/design.md §5): a child's events are delivered by its own
//! sender, the parent's queued events by the parent only, once; no deadlock when the fork happens
//! while the sender is inside a request. One #[test] so no other test thread runs during fork().

mod common;

use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

fn user_counts(col: &Collector) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in col.messages() {
        *counts.entry(m["userId"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    counts
}

fn send(client: &TestClient, prefix: &str, n: usize) -> bool {
    (0..n).all(|i| client.flag(&format!("{prefix}{i}"), "f", Some("r"), Some("v"), true, 1, None) == Status::Ok)
}

#[test]
fn fork_child_and_parent_each_deliver_their_own_events_once() {
    let col = collector();

    // 1. Parent events queued (long interval) at fork time stay the parent's.
    let client = TestClient::new(&config(&col.url(), json!({"flush_interval_ms": 60000})));
    assert!(send(&client, "parent-", 10));
    let status = in_child(|| {
        let stats = client.stats();
        // The child starts with an empty queue and fresh counters.
        stat(&stats, "enqueued") == 0
            && send(&client, "child-", 5)
            && client.flush(10_000) == Status::Ok
            && stat(&client.stats(), "delivered") == 5
    });
    assert_eq!(status, 0, "child failed (status {status})");
    assert_eq!(client.flush(10_000), Status::Ok);
    let counts = user_counts(&col);
    for i in 0..10 {
        assert_eq!(counts.get(&format!("parent-{i}")), Some(&1), "parent-{i}: {counts:?}");
    }
    for i in 0..5 {
        assert_eq!(counts.get(&format!("child-{i}")), Some(&1), "child-{i}: {counts:?}");
    }
    assert_eq!(counts.len(), 15);
    let stats = client.stats();
    assert_eq!(stat(&stats, "delivered"), 10, "parent counters are the parent's: {stats}");
    assert_invariant(&stats);

    // 2. A child that makes no call at all, then shuts the client down at exit (like at_exit).
    col.reset();
    assert!(send(&client, "p2-", 4));
    let status = in_child(|| client.flush(5000) == Status::Ok);
    assert_eq!(status, 0);
    assert_eq!(client.flush(10_000), Status::Ok);
    assert_eq!(col.messages().len(), 4, "the child must not resend the parent's events");

    // 3. Fork while the parent's sender is inside a slow request.
    col.reset();
    col.script(vec![Step::Status { code: 200, retry_after: None, delay_ms: 800 }]);
    assert!(send(&client, "p3-", 3));
    assert_eq!(client.flush(0), Status::Timeout); // wakes the sender now
    for _ in 0..200 {
        if !col.requests().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(col.requests().len(), 1, "the parent's request should be in flight");
    let status = in_child(|| {
        let ok = send(&client, "c3-", 6) && client.flush(10_000) == Status::Ok;
        // The client is shut down in the child too, as an at_exit hook would.
        let moved = unsafe { std::ptr::read(&client) };
        ok && moved.shutdown(5000) == Status::Ok
    });
    assert_eq!(status, 0, "child deadlocked or failed (status {status})");
    assert_eq!(client.flush(10_000), Status::Ok);
    let counts = user_counts(&col);
    assert_eq!(counts.len(), 9, "{counts:?}");
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");

    // 4. messageIds made on the forking thread (enqueue) never repeat across parent and child.
    col.reset();
    let track = |user: &str| json!({"type": "track", "userId": user, "event": "Forked"}).to_string();
    assert_eq!(client.enqueue(&track("before-fork")), Status::Ok);
    let status = in_child(|| (0..20).all(|i| client.enqueue(&track(&format!("child-{i}"))) == Status::Ok) && client.flush(10_000) == Status::Ok);
    assert_eq!(status, 0);
    for i in 0..20 {
        assert_eq!(client.enqueue(&track(&format!("parent-{i}"))), Status::Ok);
    }
    assert_eq!(client.flush(10_000), Status::Ok);
    let msgs = col.messages();
    assert_eq!(msgs.len(), 41);
    let ids: std::collections::HashSet<_> = message_ids(&msgs).into_iter().collect();
    assert_eq!(ids.len(), 41, "parent and child repeated messageIds");
    assert_eq!(client.shutdown(5000), Status::Ok);

    // 5. Fork while several of the parent's requests are in flight (slow collector): the child
    //    never finishes or repeats them; the parent's arrive once, from the parent.
    let slow = Collector::start(CollectorOptions { write_keys: vec![WRITE_KEY.into()], latency_ms: 600, ..Default::default() }).unwrap();
    let client = TestClient::new(&config(&slow.url(), json!({"batch_size": 5, "flush_interval_ms": 10})));
    for i in 0..20 {
        assert_eq!(client.flag(&format!("p5-{i}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
        std::thread::sleep(Duration::from_millis(12));
    }
    for _ in 0..200 {
        if slow.in_flight() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(slow.in_flight() >= 3, "several parent requests in flight: {}", slow.in_flight());
    let status = in_child(|| {
        let fresh = stat(&client.stats(), "in_flight") == 0 && stat(&client.stats(), "enqueued") == 0;
        fresh && send(&client, "c5-", 7) && client.flush(10_000) == Status::Ok && stat(&client.stats(), "delivered") == 7
    });
    assert_eq!(status, 0, "child failed (status {status})");
    assert_eq!(client.flush(10_000), Status::Ok);
    let counts = user_counts(&slow);
    assert_eq!(counts.len(), 27, "{counts:?}");
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");
    assert_eq!(stat(&client.stats(), "delivered"), 20);
    assert_eq!(client.shutdown(5000), Status::Ok);
}
