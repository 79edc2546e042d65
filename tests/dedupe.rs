//! The opt-in dedupe window and fleet-wide idempotent messageIds (issue 15), over real HTTP:
//! a realistic stream (Zipf-distributed users, several decisions per request, re-bucketing,
//! several processes) yields exactly the first exposures expected; the memory bound holds; ids
//! are the same across processes and across a restart within the window.

mod common;

use common::*;
use serde_json::json;
use std::collections::HashSet;

#[path = "common/zipf.rs"]
mod zipf;
#[path = "common/dedupe_stream.rs"]
mod dedupe_stream;
use dedupe_stream::*;

#[test]
fn a_realistic_stream_sends_exactly_the_first_exposures() {
    let col = collector();
    let decisions = stream(7, 5_000, 20_000);
    let client = TestClient::new(&dedupe_config(&col, json!({})));
    let skipped = send_all(&client, &decisions);
    assert_eq!(client.flush(20_000), Status::Ok);
    let expected = expected_sends(&decisions);
    let msgs = col.messages();
    assert_eq!(msgs.len(), expected, "events sent");
    assert_eq!(skipped, decisions.len() - expected, "repeats answered SKIPPED");
    let stats = client.stats();
    assert_eq!(stat(&stats, "deduplicated"), (decisions.len() - expected) as u64, "{stats}");
    assert!(stat(&stats, "dedupe_entries") > 0);
    assert_invariant(&stats);
    // Every (user, flag, assignment) sent is there; re-bucketed users appear in both variations.
    let sent: HashSet<(String, String, String)> = msgs
        .iter()
        .map(|m| {
            let p = &m["properties"];
            (m["userId"].as_str().unwrap().into(), p["flagKey"].as_str().unwrap().into(), p["variationKey"].as_str().unwrap().into())
        })
        .collect();
    let wanted: HashSet<(String, String, String)> = decisions.iter().map(|(u, f, _, v)| (u.clone(), f.to_string(), v.to_string())).collect();
    assert_eq!(sent, wanted);
    // Off (the default): every exposure is sent.
    col.reset();
    let plain = TestClient::new(&config(&col.url(), json!({"batch_size": 500})));
    assert_eq!(send_all(&plain, &decisions[..2_000]), 0);
    assert_eq!(plain.flush(20_000), Status::Ok);
    assert_eq!(col.messages().len(), 2_000);
}

#[test]
fn memory_stays_within_max_entries_and_eviction_only_adds_events() {
    let col = collector();
    let decisions = stream(11, 5_000, 20_000);
    let client = TestClient::new(&dedupe_config(&col, json!({"max_entries": 500})));
    send_all(&client, &decisions);
    assert_eq!(client.flush(20_000), Status::Ok);
    let stats = client.stats();
    assert!(stat(&stats, "dedupe_entries") <= 500, "{stats}");
    // A table too small for the stream forgets users: it sends more than the ideal, never fewer.
    let sent = col.messages().len();
    assert!(sent >= expected_sends(&decisions), "{sent} < {}", expected_sends(&decisions));
    assert!(sent < decisions.len(), "it still deduplicates the hottest users");
}

#[test]
fn another_source_derives_other_ids_for_the_same_exposure() {
    // A collector that takes any write key, so two sources can be compared.
    let col = Collector::start(CollectorOptions::default()).unwrap();
    let mut ids = Vec::new();
    for key in ["source-a", "source-b", "source-a"] {
        let mut cfg = dedupe_config(&col, json!({}));
        cfg["write_key"] = json!(key);
        let client = TestClient::new(&cfg);
        assert_eq!(client.flag("user-1", "checkout", Some("checkout_ab"), Some("control"), true, 1, None), Status::Ok);
        assert_eq!(client.shutdown(5_000), Status::Ok);
        ids.push(message_ids(&col.messages()).pop().unwrap());
    }
    assert_ne!(ids[0], ids[1], "two sources");
    assert_eq!(ids[0], ids[2], "one source, restarted");
    assert_eq!(uuid_version(&ids[0]), 5);
}


