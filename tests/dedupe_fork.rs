//! The dedupe window across processes (issue 15): a fleet of processes and a restart derive the
//! same messageIds for the same first exposures; a forked child starts with an empty window.
//! One #[test], so no other test thread runs during fork().

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
fn across_processes() {
    derived_message_ids_are_the_same_across_processes_and_restarts();
    random_ids_unless_asked_and_a_forked_child_starts_with_an_empty_window();
}

fn derived_message_ids_are_the_same_across_processes_and_restarts() {
    let col = collector();
    let decisions = stream(23, 300, 1_000);
    let distinct: HashSet<(String, &str, &str, &str)> = decisions.iter().cloned().collect();

    // Three "processes" of one fleet (same write key), each with its own table, then one
    // restart: each sends its own first exposures, and they share messageIds.
    for _ in 0..3 {
        let client = TestClient::new(&dedupe_config(&col, json!({})));
        send_all(&client, &decisions);
        assert_eq!(client.shutdown(20_000), Status::Ok);
    }
    let status = in_child(|| {
        let client = TestClient::new(&dedupe_config(&col, json!({})));
        send_all(&client, &decisions);
        client.shutdown(20_000) == Status::Ok
    });
    assert_eq!(status, 0, "the forked process failed");
    let msgs = col.messages();
    assert_eq!(msgs.len(), 4 * expected_sends(&decisions));
    let ids: HashSet<String> = message_ids(&msgs).into_iter().collect();
    // Segment keeps one event per messageId: the fleet's distinct first exposures.
    assert_eq!(ids.len(), distinct.len(), "one id per (user, flag, rule, variation) in the window");
    for id in &ids {
        assert_eq!(uuid_version(id), 5, "{id}");
    }
}

fn random_ids_unless_asked_and_a_forked_child_starts_with_an_empty_window() {
    let col = collector();
    let client = TestClient::new(&dedupe_config(&col, json!({"derive_message_ids": false})));
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Skipped);
    let status = in_child(|| {
        // The child's window is empty: its first exposure is sent (with its own random id).
        client.flag("u", "f", Some("r"), Some("v"), true, 1, None) == Status::Ok && client.flush(10_000) == Status::Ok
    });
    assert_eq!(status, 0);
    assert_eq!(client.flush(10_000), Status::Ok);
    let msgs = col.messages();
    assert_eq!(msgs.len(), 2);
    let ids: HashSet<String> = message_ids(&msgs).into_iter().collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| uuid_version(id) == 4));
}

