//! Delivery under faults (docs/design.md §5): retries, give-ups, deadlines, outages, concurrency.

mod common;

use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn send_n(client: &TestClient, n: usize, prefix: &str) {
    for i in 0..n {
        assert_eq!(client.flag(&format!("{prefix}{i}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    }
}

/// Each messageId accepted exactly once.
fn assert_exactly_once(col: &Collector, n: usize) {
    let msgs = col.messages();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in message_ids(&msgs) {
        *counts.entry(id).or_default() += 1;
    }
    assert_eq!(counts.len(), n, "distinct messages");
    assert!(counts.values().all(|&c| c == 1), "duplicates: {:?}", counts.iter().filter(|(_, &c)| c > 1).collect::<Vec<_>>());
}

#[test]
fn retryable_statuses_then_success_deliver_every_event_once_with_same_message_ids() {
    let col = collector();
    col.script(vec![
        Step::status(503),
        Step::status(500),
        Step::Status { code: 429, retry_after: Some("1".into()), delay_ms: 0 },
        Step::status(502),
        Step::status(408),
        Step::status(460),
    ]);
    let client = TestClient::new(&config(&col.url(), json!({"batch_size": 100})));
    send_n(&client, 20, "u");
    let started = Instant::now();
    assert_eq!(client.flush(20_000), Status::Ok);
    // Retry-After: 1 was honoured (the other waits are ~10-100 ms).
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
    assert_exactly_once(&col, 20);
    let reqs = col.requests();
    assert_eq!(reqs.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 500, 429, 502, 408, 460, 200]);
    // Same messages in every attempt; X-Retry-Count counts the retries; sentAt refreshed.
    for r in &reqs {
        assert_eq!(r.message_ids, reqs[0].message_ids);
    }
    let retry_counts: Vec<_> = reqs.iter().map(|r| r.retry_count.clone()).collect();
    assert_eq!(retry_counts[0], None);
    assert_eq!(retry_counts[1..], (1..=6).map(|n| Some(n.to_string())).collect::<Vec<_>>()[..]);
    let sent: Vec<_> = reqs.iter().map(|r| r.sent_at.clone().unwrap()).collect();
    assert!(sent[3] > sent[2], "sentAt is refreshed per attempt: {sent:?}");
    let stats = client.stats();
    assert_eq!((stat(&stats, "delivered"), stat(&stats, "retries"), stat(&stats, "failed")), (20, 6, 0));
    assert_invariant(&stats);
}

#[test]
fn retry_after_as_http_date_is_honoured() {
    let col = collector();
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    col.script(vec![Step::Status { code: 503, retry_after: Some(at), delay_ms: 0 }]);
    let client = TestClient::new(&config(&col.url(), json!({})));
    send_n(&client, 3, "d");
    let started = Instant::now();
    assert_eq!(client.flush(20_000), Status::Ok);
    // HTTP dates have one-second resolution: at least ~1 s, and the event arrives once.
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_exactly_once(&col, 3);
}

#[test]
fn non_retryable_status_fails_only_that_batch() {
    let col = collector();
    col.script(vec![Step::status(422)]);
    let client = TestClient::new(&config(&col.url(), json!({"batch_size": 5, "flush_interval_ms": 60000})));
    send_n(&client, 5, "b");
    assert_eq!(client.flush(10_000), Status::Ok);
    for i in 5..10 {
        assert_eq!(client.flag(&format!("b{i}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    }
    assert_eq!(client.flush(10_000), Status::Ok);
    let reqs = col.requests();
    assert_eq!(reqs.iter().map(|r| r.status).collect::<Vec<_>>(), [422, 200]);
    // Only the second batch arrived; the first was not retried.
    let users: Vec<_> = col.messages().iter().map(|m| m["userId"].as_str().unwrap().to_string()).collect();
    assert_eq!(users, (5..10).map(|i| format!("b{i}")).collect::<Vec<_>>());
    let stats = client.stats();
    assert_eq!((stat(&stats, "failed"), stat(&stats, "delivered"), stat(&stats, "retries")), (5, 5, 0));
    assert_invariant(&stats);
    for code in [501, 505, 511, 404, 401] {
        col.reset();
        col.script(vec![Step::status(code)]);
        let client = TestClient::new(&config(&col.url(), json!({})));
        send_n(&client, 1, "x");
        assert_eq!(client.flush(10_000), Status::Ok);
        assert_eq!(col.requests().len(), 1, "{code} must not be retried");
        assert_eq!(stat(&client.stats(), "failed"), 1);
    }
}

#[test]
fn retries_are_bounded_by_max_retries() {
    let col = collector();
    col.script(vec![Step::status(503); 10]);
    let client = TestClient::new(&config(&col.url(), json!({"max_retries": 3})));
    send_n(&client, 2, "m");
    assert_eq!(client.flush(10_000), Status::Ok);
    assert_eq!(col.requests().len(), 4, "1 attempt + 3 retries");
    let stats = client.stats();
    assert_eq!((stat(&stats, "failed"), stat(&stats, "retries")), (2, 3));
    assert_invariant(&stats);
}

#[test]
fn dropped_connections_are_retried() {
    let col = collector();
    col.script(vec![Step::Drop, Step::Drop]);
    let client = TestClient::new(&config(&col.url(), json!({})));
    send_n(&client, 7, "c");
    assert_eq!(client.flush(10_000), Status::Ok);
    assert_exactly_once(&col, 7);
    assert_eq!(stat(&client.stats(), "retries"), 2);
}

#[test]
fn collector_down_at_start_receives_everything_once_it_comes_up() {
    // Reserve a port, keep it closed, and bring the collector up later on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = TestClient::new(&config(&format!("http://127.0.0.1:{port}"), json!({"backoff_base_ms": 50, "backoff_max_ms": 300, "max_retries": 50})));
    send_n(&client, 25, "late");
    std::thread::sleep(Duration::from_millis(700));
    assert!(stat(&client.stats(), "retries") >= 1, "should have retried while down");
    let col = Collector::start(CollectorOptions { port, write_keys: vec![WRITE_KEY.into()], ..Default::default() }).unwrap();
    assert_eq!(client.flush(20_000), Status::Ok);
    assert_exactly_once(&col, 25);
    let stats = client.stats();
    assert_eq!(stat(&stats, "delivered"), 25);
    assert_invariant(&stats);
}

#[test]
fn flush_returns_within_deadline_during_a_long_backoff() {
    let col = collector();
    // The server asks for a 300 s pause; flush must not wait for it.
    col.script(vec![Step::Status { code: 429, retry_after: Some("300".into()), delay_ms: 0 }]);
    let client = TestClient::new(&config(&col.url(), json!({})));
    send_n(&client, 4, "w");
    assert!(col.wait_for_messages(0, Duration::from_millis(1)));
    std::thread::sleep(Duration::from_millis(200)); // the sender is now in the 300 s sleep
    let started = Instant::now();
    let status = client.flush(400);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(400) + DEADLINE_SLACK, "flush took {took:?}");
    // The flush cut the backoff short: an attempt happened before its deadline.
    assert_eq!(status, Status::Ok, "the retry before the deadline succeeds");
    assert_eq!(col.requests().len(), 2);
    assert_exactly_once(&col, 4);

    // Same, but the early retry fails too: TIMEOUT at the deadline, and nothing is lost.
    col.reset();
    col.script(vec![Step::Status { code: 429, retry_after: Some("300".into()), delay_ms: 0 }; 2]);
    send_n(&client, 2, "w2-");
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(client.flush(300), Status::Timeout);
    assert!(started.elapsed() < Duration::from_millis(300) + DEADLINE_SLACK, "flush took {:?}", started.elapsed());
    assert_eq!(col.requests().len(), 2, "one attempt was made before the deadline");
    assert_eq!(stat(&client.stats(), "queue_depth"), 2);
}

#[test]
fn shutdown_returns_within_deadline_during_a_long_backoff() {
    let col = collector();
    col.script(vec![Step::Status { code: 429, retry_after: Some("300".into()), delay_ms: 0 }; 2]);
    let client = TestClient::new(&config(&col.url(), json!({})));
    send_n(&client, 3, "sb");
    for _ in 0..200 {
        if !col.requests().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50)); // the sender is now in the 300 s sleep
    let started = Instant::now();
    assert_eq!(client.shutdown(300), Status::Timeout);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300) + DEADLINE_SLACK, "shutdown took {took:?}");
    assert_eq!(col.requests().len(), 2, "one early attempt before the deadline");
}

#[test]
fn flush_and_shutdown_return_within_deadline_while_a_request_hangs() {
    let col = collector();
    col.script(vec![Step::Hang]);
    let client = TestClient::new(&config(&col.url(), json!({"request_timeout_ms": 60000})));
    send_n(&client, 3, "h");
    for _ in 0..200 {
        if !col.requests().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(col.requests().len(), 1, "request should be hanging");
    let started = Instant::now();
    assert_eq!(client.flush(300), Status::Timeout);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(300) + DEADLINE_SLACK, "flush took {took:?}");
    assert_eq!(stat(&client.stats(), "queue_depth"), 3, "events stay queued");
    let started = Instant::now();
    assert_eq!(client.shutdown(300), Status::Timeout);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300) + DEADLINE_SLACK, "shutdown took {took:?}");
}

#[test]
fn shutdown_delivers_what_is_queued() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"flush_interval_ms": 60000})));
    send_n(&client, 42, "s");
    assert_eq!(client.shutdown(10_000), Status::Ok);
    assert_exactly_once(&col, 42);
}

#[test]
fn concurrent_callers_flushers_and_stats_readers() {
    let col = collector();
    let client = Arc::new(TestClient::new(&config(&col.url(), json!({"batch_size": 50, "flush_interval_ms": 20, "max_queue_events": 100_000}))));
    const THREADS: usize = 8;
    const PER_THREAD: usize = 2_000;
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let c = Arc::clone(&client);
        handles.push(std::thread::spawn(move || {
            for i in 0..PER_THREAD {
                let st = if i % 3 == 0 {
                    c.decision(&flag_notification(&format!("t{t}-{i}"), "f", "r", "v", Some(true)))
                } else {
                    c.flag(&format!("t{t}-{i}"), "f", Some("r"), Some("v"), true, 1, Some(r#"{"t":1}"#))
                };
                assert_eq!(st, Status::Ok);
            }
        }));
    }
    for _ in 0..2 {
        let c = Arc::clone(&client);
        handles.push(std::thread::spawn(move || {
            for _ in 0..40 {
                assert_eq!(c.flush(10_000), Status::Ok);
                let s = c.stats();
                assert!(stat(&s, "delivered") + stat(&s, "failed") <= stat(&s, "enqueued"), "{s}");
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(client.flush(20_000), Status::Ok);
    assert_exactly_once(&col, THREADS * PER_THREAD);
    let stats = client.stats();
    assert_eq!(stat(&stats, "delivered"), (THREADS * PER_THREAD) as u64);
    assert_invariant(&stats);
}
