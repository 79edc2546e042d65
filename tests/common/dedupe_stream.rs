//! The dedupe tests' stream and helpers (shared with `#[path]`).
#![allow(dead_code)]

use crate::common::*;
use crate::zipf::Zipf;
use serde_json::{json, Value};
use std::collections::HashMap;

pub const WEEK_MS: u64 = 604_800_000;

pub fn dedupe_config(col: &Collector, extra: Value) -> Value {
    let mut dedupe = json!({"window_ms": WEEK_MS, "max_entries": 100_000});
    for (k, v) in extra.as_object().unwrap() {
        dedupe[k] = v.clone();
    }
    config(&col.url(), json!({"dedupe": dedupe, "batch_size": 500}))
}

/// A deterministic stream of (user, flag, rule, variation): users drawn from a Zipf(1.1) law over
/// `users`, several flags per "request", and a share of users re-bucketed halfway (their
/// variation on `checkout` changes, as when a rule's allocation is edited).
pub fn stream(seed: u64, users: usize, requests: usize) -> Vec<(String, &'static str, &'static str, &'static str)> {
    let mut zipf = Zipf::new(users, 1.1, seed);
    let mut out = Vec::new();
    for r in 0..requests {
        let u = zipf.next_rank();
        let user = format!("user-{u}");
        let rebucketed = r > requests / 2 && u % 10 == 3;
        out.push((user.clone(), "checkout", "checkout_ab", if rebucketed { "treatment" } else if u % 2 == 0 { "control" } else { "treatment" }));
        out.push((user.clone(), "search", "search_ab", if u % 3 == 0 { "b" } else { "a" }));
        if zipf.uniform() < 0.3 {
            out.push((user, "pricing", "pricing_ab", "on"));
        }
    }
    out
}

/// What one process with a local table sends: the first exposure of each (user, flag) and every
/// change of its (rule, variation).
pub fn expected_sends(decisions: &[(String, &str, &str, &str)]) -> usize {
    let mut last: HashMap<(String, &str), (&str, &str)> = HashMap::new();
    decisions.iter().filter(|(u, f, r, v)| last.insert((u.clone(), *f), (*r, *v)) != Some((*r, *v))).count()
}

pub fn send_all(client: &TestClient, decisions: &[(String, &str, &str, &str)]) -> usize {
    let mut skipped = 0;
    for (u, f, r, v) in decisions {
        match client.flag(u, f, Some(r), Some(v), true, 1, None) {
            Status::Ok => {}
            Status::Skipped => skipped += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    skipped
}

pub fn uuid_version(id: &str) -> u32 {
    u32::from_str_radix(&id[14..15], 16).unwrap()
}
