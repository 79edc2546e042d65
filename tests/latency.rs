//! Delivery at internet latency (issue 11): the collector answers each request after 50 ms, as
//! Segment does from far away. With the defaults, a busy service's exposures all arrive; requests
//! stay within the budget; faults still give exactly once; deadlines hold with requests hanging.

mod common;

use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn latency_collector(ms: u64) -> Collector {
    Collector::start(CollectorOptions { write_keys: vec![WRITE_KEY.into()], latency_ms: ms, ..Default::default() })
        .expect("collector")
}

/// The library's defaults: only the endpoint and quiet logs.
fn defaults(col: &Collector) -> serde_json::Value {
    json!({"write_key": WRITE_KEY, "endpoint": col.url(), "log_level": "off"})
}

/// Offers `rate` exposures/s for `secs`, paced in 1 ms slices; returns the statuses' counts.
fn offer(client: &TestClient, rate: u64, secs: f64, prefix: &str) -> HashMap<Status, u64> {
    let mut counts = HashMap::new();
    let start = Instant::now();
    let total = (rate as f64 * secs) as u64;
    let mut sent = 0;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let user = format!("{prefix}{sent}");
            let mut r = Record::new(&user, "checkout_flow", Some("checkout_ab"), Some("treatment"));
            r.attributes_json = Some(r#"{"plan":"pro","country":"DE"}"#);
            *counts.entry(client.record(&r)).or_default() += 1;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    counts
}

fn assert_each_once(col: &Collector, n: usize) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in col.messages() {
        *seen.entry(m["messageId"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(seen.len(), n, "distinct messages delivered");
    let dups: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).collect();
    assert!(dups.is_empty(), "duplicates: {dups:?}");
}

/// The most requests that arrived within any one second.
fn max_requests_per_second(col: &Collector) -> usize {
    let times: Vec<u64> = col.requests().iter().map(|r| r.received_at_ms).collect();
    let mut best = 0;
    for (i, &t) in times.iter().enumerate() {
        best = best.max(times[i..].iter().take_while(|&&u| u < t + 1000).count());
    }
    best
}

#[test]
fn twenty_thousand_exposures_a_second_at_50ms_all_arrive_with_the_defaults() {
    let col = latency_collector(50);
    let client = TestClient::new(&defaults(&col));
    let counts = offer(&client, 20_000, 5.0, "u");
    assert_eq!(counts.get(&Status::QueueFull), None, "QUEUE_FULL with the defaults: {counts:?}");
    assert_eq!(counts.get(&Status::Ok), Some(&100_000), "{counts:?}");
    assert_eq!(client.flush(30_000), Status::Ok);
    assert_each_once(&col, 100_000);
    let stats = client.stats();
    assert_invariant(&stats);
    let rps = max_requests_per_second(&col);
    assert!(rps <= 201, "{rps} requests in one second, budget 200");
    assert!(col.max_concurrent() >= 2, "requests overlapped: {}", col.max_concurrent());
}

#[test]
fn under_pressure_batches_grow_instead_of_requests() {
    let col = latency_collector(20);
    let client = TestClient::new(&config(&col.url(), json!({"max_requests_per_second": 10, "batch_size": 50, "flush_interval_ms": 1000})));
    let counts = offer(&client, 5_000, 2.0, "p");
    assert_eq!(counts.get(&Status::Ok), Some(&10_000), "{counts:?}");
    assert_eq!(client.flush(30_000), Status::Ok);
    assert_each_once(&col, 10_000);
    let rps = max_requests_per_second(&col);
    assert!(rps <= 11, "{rps} requests in one second, budget 10");
    let largest = col.requests().iter().map(|r| r.message_ids.len()).max().unwrap();
    assert!(largest > 50, "batches stayed at batch_size ({largest}) instead of growing");
}

#[test]
fn a_steady_trickle_goes_out_once_per_interval_not_per_request() {
    // 200 events/s with batch_size 1000: each request is due when its oldest event has waited
    // flush_interval_ms, not when the previous request returns.
    let col = latency_collector(50);
    let client = TestClient::new(&config(&col.url(), json!({"batch_size": 1000, "flush_interval_ms": 500})));
    let started = Instant::now();
    let counts = offer(&client, 200, 3.0, "t");
    assert_eq!(counts.get(&Status::Ok), Some(&600));
    assert_eq!(client.flush(10_000), Status::Ok);
    let elapsed = started.elapsed().as_millis() as usize;
    let requests = col.requests();
    // About one request per interval (the old timer sent one per round trip: ~30 here).
    assert!(requests.len() <= elapsed / 500 + 3, "{} requests in {elapsed} ms", requests.len());
    // No event waited much more than the interval before its request (generous for a loaded machine).
    for r in &requests {
        let oldest = col
            .messages()
            .iter()
            .filter(|m| r.message_ids.iter().any(|id| id == m["messageId"].as_str().unwrap()))
            .map(|m| time::OffsetDateTime::parse(m["timestamp"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap())
            .min()
            .unwrap();
        let waited = (r.received_at_ms as i128 - oldest.unix_timestamp_nanos() / 1_000_000) as i64;
        assert!(waited < 1500, "an event waited {waited} ms with flush_interval_ms 500");
    }
    assert_each_once(&col, 600);
}

#[test]
fn faults_mixed_with_concurrency_still_deliver_each_event_exactly_once() {
    let col = latency_collector(50);
    let mut steps = Vec::new();
    for i in 0..30 {
        steps.push(match i % 6 {
            0 => Step::status(503),
            1 => Step::Status { code: 429, retry_after: Some("0".into()), delay_ms: 0 },
            2 => Step::Drop,
            3 => Step::status(500),
            _ => Step::status(200),
        });
    }
    col.script(steps);
    let client = TestClient::new(&config(&col.url(), json!({"batch_size": 100, "flush_interval_ms": 100, "max_retries": 20})));
    let counts = offer(&client, 5_000, 2.0, "f");
    assert_eq!(counts.get(&Status::Ok), Some(&10_000), "{counts:?}");
    assert_eq!(client.flush(60_000), Status::Ok);
    assert_each_once(&col, 10_000);
    let stats = client.stats();
    assert!(stat(&stats, "retries") >= 10, "{stats}");
    assert_eq!(stat(&stats, "failed"), 0, "{stats}");
    assert_invariant(&stats);
}

#[test]
fn a_429_pauses_every_worker_not_just_the_one_that_got_it() {
    let col = latency_collector(100);
    col.script(vec![Step::Status { code: 429, retry_after: Some("1".into()), delay_ms: 0 }]);
    let client = TestClient::new(&config(&col.url(), json!({"batch_size": 10, "flush_interval_ms": 20})));
    // A stream of small batches keeps several workers busy across the 429.
    let counts = offer(&client, 500, 2.0, "z");
    assert_eq!(counts.get(&Status::Ok), Some(&1000));
    assert_eq!(client.flush(20_000), Status::Ok);
    assert_each_once(&col, 1000);
    let reqs = col.requests();
    let throttled = reqs.iter().find(|r| r.status == 429).expect("the 429");
    // Its answer left the collector ~100 ms after arrival; from then on nobody sends for 1 s.
    let pause_from = throttled.received_at_ms + 100 + 30;
    let during: Vec<_> = reqs.iter().filter(|r| r.received_at_ms > pause_from && r.received_at_ms < pause_from + 800).collect();
    assert!(during.is_empty(), "{} requests started during the shared pause", during.len());
    assert!(reqs.iter().any(|r| r.received_at_ms >= pause_from + 800), "sending resumed");
}

#[test]
fn flush_and_shutdown_keep_their_deadlines_with_several_requests_hanging() {
    let col = latency_collector(0);
    col.script(vec![Step::Hang; 4]);
    let client = TestClient::new(&config(&col.url(), json!({"batch_size": 5, "flush_interval_ms": 10, "request_timeout_ms": 60_000})));
    for i in 0..20 {
        assert_eq!(client.flag(&format!("h{i}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
        std::thread::sleep(Duration::from_millis(15));
    }
    for _ in 0..200 {
        if col.in_flight() >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(col.in_flight() >= 4, "four requests hang: {}", col.in_flight());
    assert!(stat(&client.stats(), "in_flight") >= 4);
    let started = Instant::now();
    assert_eq!(client.flush(300), Status::Timeout);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300) + DEADLINE_SLACK, "flush(300) took {took:?}");
    let started = Instant::now();
    assert_eq!(client.shutdown(300), Status::Timeout);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300) + DEADLINE_SLACK, "shutdown(300) took {took:?}");
}
