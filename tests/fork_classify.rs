//! Held decisions and per-variation exposure counts across fork(): the child starts with none of
//! the parent's, counts its own exposures (through the datafile index it inherited), and the
//! parent alone resolves what it held. One #[test] so no other test thread runs during fork().

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;

fn counts(stats: &Value) -> Vec<(String, u64)> {
    stats["exposures_by_variation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (format!("{}/{}/{}", c["flag_key"].as_str().unwrap(), c["rule_key"].as_str().unwrap(), c["variation_key"].as_str().unwrap()), c["exposures"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_forked_child_holds_and_counts_only_its_own_decisions() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"hold_timeout_ms": 60000, "flush_interval_ms": 60000})));
    assert_eq!(client.set_datafile(MINIMAL_DATAFILE), Status::Ok);
    // An exposure (its counter slot in the datafile index is now filled) and a held decision.
    assert_eq!(client.flag("parent-exposure", "checkout_flow", Some("checkout_ab"), Some("treatment"), true, 1, None), Status::Ok);
    assert_eq!(client.flag("parent-held", "checkout_flow", Some("new_rule"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(stat(&client.stats(), "held_now"), 1);

    let status = in_child(|| {
        let fresh = client.stats();
        let ok_fresh = stat(&fresh, "held_now") == 0 && counts(&fresh).is_empty() && stat(&fresh, "exposure_counts_overflow") == 0;
        let ok_calls = client.flag("child-exposure", "checkout_flow", Some("checkout_ab"), Some("treatment"), true, 1, None) == Status::Ok
            && client.flag("child-held", "checkout_flow", Some("new_rule"), Some("v"), true, 1, None) == Status::Ok;
        let held = client.stats();
        let ok_held = stat(&held, "held_now") == 1 && counts(&held) == [("checkout_flow/checkout_ab/treatment".to_string(), 1)];
        let ok_flush = client.flush(10_000) == Status::Ok && stat(&client.stats(), "delivered") == 2;
        if !(ok_fresh && ok_calls && ok_held && ok_flush) {
            eprintln!("child: fresh {fresh} held {held}");
        }
        ok_fresh && ok_calls && ok_held && ok_flush
    });
    assert_eq!(status, 0, "child failed (status {status})");

    let stats = client.stats();
    assert_eq!(counts(&stats), [("checkout_flow/checkout_ab/treatment".to_string(), 1)], "the child's exposure is not the parent's");
    assert_eq!(stat(&stats, "held_now"), 1);
    assert_eq!(client.flush(10_000), Status::Ok);
    let mut by_user: HashMap<String, usize> = HashMap::new();
    for m in col.messages() {
        *by_user.entry(m["userId"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let expected: HashMap<String, usize> =
        ["parent-exposure", "parent-held", "child-exposure", "child-held"].iter().map(|u| (u.to_string(), 1)).collect();
    assert_eq!(by_user, expected);
    let stats = client.stats();
    assert_eq!((stat(&stats, "released_by_flush"), stat(&stats, "delivered")), (1, 2), "{stats}");
    assert_eq!(client.shutdown(5000), Status::Ok);
}
