//! `cargo bench --bench dedupe`: what the opt-in dedupe window costs and saves (issue 15).
//!
//! 1. The caller cost of the check (goal ≤ 50 ns median): `DedupeTable::check` over a realistic
//!    stream (Zipf(1.1) over 50,000 users, three flags, mostly repeats) and over first exposures.
//! 2. Memory per tracked exposure: RSS growth while 1,000,000 pairs are recorded.
//! 3. Events and bytes sent with and without dedupe for the same stream, through the C ABI to the
//!    collector at 50 ms per request.
//!
//! With FLAGWIRE_BENCH_JSON set, writes a summary in the contract of scripts/bench_report.py.

use std::time::{Duration, Instant};

use flagwire::ffi::*;
use flagwire::{DedupeTable, FlagwireStatus};
use flagwire_collector::{Collector, CollectorOptions};
use serde_json::json;

#[path = "../tests/common/record.rs"]
mod record;
use record::Record;
#[path = "../tests/common/zipf.rs"]
mod zipf;
use zipf::Zipf;

fn stream(n: usize, users: usize) -> Vec<(String, &'static str, &'static str, &'static str)> {
    let mut zipf = Zipf::new(users, 1.1, 0x9E37_79B9_7F4A_7C15);
    let flags = [("checkout", "checkout_ab"), ("search", "search_ab"), ("pricing", "pricing_ab")];
    (0..n)
        .map(|i| {
            let u = zipf.next_rank();
            let (f, r) = flags[i % 3];
            (format!("user-{u}"), f, r, if u % 2 == 0 { "control" } else { "treatment" })
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// ns per check, 7 rounds of the whole stream on a fresh table.
fn check_cost(decisions: &[(String, &str, &str, &str)], max_entries: usize) -> Vec<f64> {
    (0..7)
        .map(|_| {
            let table = DedupeTable::new(86_400_000, max_entries);
            let started = Instant::now();
            for (u, f, r, v) in decisions {
                std::hint::black_box(table.check(u, f, r, v, 1_800_000_000));
            }
            started.elapsed().as_nanos() as f64 / decisions.len() as f64
        })
        .collect()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

/// Events and bytes the collector got for `decisions`, with or without a dedupe window.
fn sent(decisions: &[(String, &str, &str, &str)], dedupe: bool) -> (u64, u64) {
    let col = Collector::start(CollectorOptions { latency_ms: 50, ..Default::default() }).unwrap();
    let mut cfg = json!({"write_key": "bench", "endpoint": col.url(), "log_level": "off"});
    if dedupe {
        cfg["dedupe"] = json!({"window_ms": 86_400_000});
    }
    let cfg = std::ffi::CString::new(cfg.to_string()).unwrap();
    let mut c = std::ptr::null_mut();
    assert_eq!(unsafe { flagwire_init(cfg.as_ptr(), &mut c, std::ptr::null_mut()) }, FlagwireStatus::Ok);
    let mut buf = Vec::new();
    for (u, f, r, v) in decisions {
        let mut rec = Record::new(u, f, Some(r), Some(v));
        rec.dispatched = 1;
        rec.attributes_json = Some(r#"{"plan":"pro","country":"DE"}"#);
        buf.clear();
        rec.encode_into(&mut buf);
        let _ = unsafe { flagwire_on_decision_record(c, buf.as_ptr(), buf.len(), std::ptr::null_mut()) };
    }
    assert_eq!(unsafe { flagwire_flush(c, 60_000) }, FlagwireStatus::Ok);
    let stats = unsafe { flagwire_stats(c) };
    let text = unsafe { std::ffi::CStr::from_ptr(stats) }.to_str().unwrap().to_string();
    unsafe { flagwire_string_free(stats) };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let _ = unsafe { flagwire_shutdown(c, 5_000) };
    (v["delivered"].as_u64().unwrap(), v["bytes_sent"].as_u64().unwrap())
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a.starts_with("--exact")) {
        return;
    }
    let decisions = stream(300_000, 50_000);
    let repeats = median(check_cost(&decisions, 1_000_000));
    let unique: Vec<_> = (0..300_000).map(|i| (format!("new-user-{i}"), "checkout", "checkout_ab", "control")).collect();
    let firsts = median(check_cost(&unique, 100_000));
    println!("dedupe check, realistic stream (mostly repeats): {:.1} ns median [{:.1}-{:.1}]", repeats.0, repeats.1, repeats.2);
    println!("dedupe check, first exposures at the bound (evicting): {:.1} ns median [{:.1}-{:.1}]", firsts.0, firsts.1, firsts.2);

    let before = rss_bytes();
    let table = DedupeTable::new(86_400_000, 1_000_000);
    for i in 0..1_000_000 {
        std::hint::black_box(table.check(&format!("user-{i}"), "checkout", "checkout_ab", "control", 1_800_000_000));
    }
    let per_entry = (rss_bytes().saturating_sub(before)) as f64 / table.len() as f64;
    println!("memory per tracked (user, flag): {per_entry:.0} bytes ({} entries)", table.len());
    drop(table);

    let small: Vec<_> = decisions[..60_000].to_vec();
    let (events_off, bytes_off) = sent(&small, false);
    let (events_on, bytes_on) = sent(&small, true);
    println!("60,000 decisions at 50 ms per request: {events_off} events / {bytes_off} bytes without dedupe, {events_on} / {bytes_on} with");

    if let Ok(path) = std::env::var("FLAGWIRE_BENCH_JSON") {
        let m = |(med, min, max): (f64, f64, f64)| json!({"median": med, "min": min, "max": max, "samples": [med]});
        let report = json!({"language": "dedupe", "commands": ["cargo bench --bench dedupe"], "measures": [
            {"name": "dedupe check, realistic stream (Zipf, mostly repeats)", "unit": "ns/op", "better": "lower",
             "goal": "<= 50 ns median", "goal_value": 50, "goal_kind": "absolute", "flagwire": m(repeats), "peer": null},
            {"name": "dedupe check, first exposures at the bound", "unit": "ns/op", "better": "lower",
             "goal": "<= 50 ns median", "goal_value": 50, "goal_kind": "absolute", "flagwire": m(firsts), "peer": null},
            {"name": "memory per tracked (user, flag)", "unit": "bytes", "better": "lower",
             "flagwire": m((per_entry, per_entry, per_entry)), "peer": null},
            {"name": "events sent for 60,000 decisions (without dedupe as the peer)", "unit": "events", "better": "lower",
             "flagwire": m((events_on as f64, events_on as f64, events_on as f64)),
             "peer": {"name": "no dedupe", "median": events_off, "min": events_off, "max": events_off}},
            {"name": "bytes sent for 60,000 decisions (without dedupe as the peer)", "unit": "bytes", "better": "lower",
             "flagwire": m((bytes_on as f64, bytes_on as f64, bytes_on as f64)),
             "peer": {"name": "no dedupe", "median": bytes_off, "min": bytes_off, "max": bytes_off}},
        ]});
        std::fs::write(path, report.to_string()).expect("write FLAGWIRE_BENCH_JSON");
    }
    let _ = Duration::ZERO;
}
