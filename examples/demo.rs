//! The main job, end to end on this machine with no Segment account: starts the local
//! Segment-compatible collector (which prints every event it accepts), creates a flagwire client
//! through the C ABI, gives it the Optimizely datafile, feeds it the decisions an Optimizely SDK
//! makes for a few thousand users (bucketed exactly as the SDKs do: murmur3 over user id + rule id),
//! then flushes, and prints what arrived next to the client's stats.
//!
//! Run: `cargo run --release --example demo [-- USERS [DATAFILE]]`

use std::ffi::{CStr, CString};
use std::io::Cursor;
use std::ptr;

use flagwire::ffi::*;
use flagwire::FlagwireStatus;
use flagwire_collector::{Collector, CollectorOptions};
use serde_json::{json, Value};

#[path = "../tests/common/record.rs"]
mod record;
use record::Record;

const WRITE_KEY: &str = "demo-write-key";

/// A flag's rules in decision order: experiments, then delivery rules.
struct Rule {
    id: String,
    key: String,
    experiment: bool,
    /// (end_of_range, variation key)
    allocation: Vec<(u32, String)>,
}

/// Optimizely's bucket: murmur3_32(bucketing id + rule id, seed 1) scaled to 0..10000.
fn bucket(user: &str, rule_id: &str) -> u32 {
    let key = format!("{user}{rule_id}");
    let hash = murmur3::murmur3_32(&mut Cursor::new(key.as_bytes()), 1).expect("hash");
    ((hash as u64 * 10_000) >> 32) as u32
}

fn rules_by_flag(datafile: &Value) -> Vec<(String, Vec<Rule>)> {
    let parse_rule = |r: &Value, experiment: bool| {
        let variations: Vec<(String, String)> = r["variations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["id"].as_str().unwrap().to_string(), v["key"].as_str().unwrap().to_string()))
            .collect();
        let allocation = r["trafficAllocation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let id = t["entityId"].as_str().unwrap();
                let key = variations.iter().find(|(vid, _)| vid == id).map(|(_, k)| k.clone()).unwrap_or_default();
                (t["endOfRange"].as_u64().unwrap() as u32, key)
            })
            .collect();
        Rule { id: r["id"].as_str().unwrap().into(), key: r["key"].as_str().unwrap().into(), experiment, allocation }
    };
    let mut experiments: Vec<&Value> = datafile["experiments"].as_array().unwrap().iter().collect();
    for g in datafile["groups"].as_array().unwrap() {
        experiments.extend(g["experiments"].as_array().unwrap());
    }
    let mut out = Vec::new();
    for flag in datafile["featureFlags"].as_array().unwrap() {
        let mut rules = Vec::new();
        for id in flag["experimentIds"].as_array().unwrap() {
            if let Some(e) = experiments.iter().find(|e| e["id"] == *id) {
                rules.push(parse_rule(e, true));
            }
        }
        if let Some(rollout) = datafile["rollouts"].as_array().unwrap().iter().find(|r| r["id"] == flag["rolloutId"]) {
            for r in rollout["experiments"].as_array().unwrap() {
                rules.push(parse_rule(r, false));
            }
        }
        out.push((flag["key"].as_str().unwrap().to_string(), rules));
    }
    out
}

fn take(p: *mut std::ffi::c_char) -> String {
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { flagwire_string_free(p) };
    s
}

fn main() {
    let mut args = std::env::args().skip(1);
    let users: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let datafile_path = args.next().unwrap_or_else(|| "tests/data/minimal-datafile.json".into());
    let datafile_text = std::fs::read_to_string(&datafile_path).expect("read datafile");
    let datafile: Value = serde_json::from_str(&datafile_text).expect("datafile JSON");

    let collector = Collector::start(CollectorOptions { print: true, write_keys: vec![WRITE_KEY.into()], ..Default::default() })
        .expect("start the local collector");
    collector.set_datafile_json(&datafile_text).expect("the collector reads the datafile");
    println!("local Segment-compatible collector on {}", collector.url());
    println!("live exposure page (per-variation split, SRM check): {}/", collector.url());

    let config = CString::new(
        json!({"write_key": WRITE_KEY, "endpoint": collector.url(), "flush_interval_ms": 200, "log_level": "warn"}).to_string(),
    )
    .unwrap();
    let mut client = ptr::null_mut();
    let mut error = ptr::null_mut();
    let status = unsafe { flagwire_init(config.as_ptr(), &mut client, &mut error) };
    assert_eq!(status, FlagwireStatus::Ok, "init: {}", if error.is_null() { String::new() } else { take(error) });
    let df = datafile_text.as_bytes();
    assert_eq!(unsafe { flagwire_set_datafile_json(client, df.as_ptr(), df.len(), ptr::null_mut()) }, FlagwireStatus::Ok);

    let flags = rules_by_flag(&datafile);
    let plans = ["free", "pro", "enterprise"];
    let (mut expected, mut rollouts, mut disabled) = (0usize, 0usize, 0usize);
    for n in 0..users {
        let user = format!("user-{n}");
        for (flag, rules) in &flags {
            // The first rule whose traffic the user falls in decides, as in the SDK (audiences are empty).
            let Some((rule, variation)) = rules.iter().find_map(|r| {
                let b = bucket(&user, &r.id);
                r.allocation.iter().find(|(end, _)| b < *end).map(|(_, v)| (r, v.clone()))
            }) else {
                continue;
            };
            // Every 50th experiment decision is made with DISABLE_DECISION_EVENT (prefetching): not an exposure.
            let dispatched = if rule.experiment && n % 50 == 0 { 0 } else if rule.experiment { 1 } else { 0 };
            let attrs = format!("{{\"plan\":\"{}\"}}", plans[n % plans.len()]);
            let status = if n % 2 == 0 {
                // The fast path (a decision record), as the bindings call it.
                let mut record = Record::new(&user, flag, Some(&rule.key), Some(&variation));
                record.dispatched = dispatched as i8;
                record.attributes_json = Some(&attrs);
                let bytes = record.encode();
                unsafe { flagwire_on_decision_record(client, bytes.as_ptr(), bytes.len(), ptr::null_mut()) }
            } else {
                // The whole notification as JSON, as a Java SDK sends it.
                let n = json!({"type": "flag", "userId": user, "attributes": serde_json::from_str::<Value>(&attrs).unwrap(),
                    "decisionInfo": {"flagKey": flag, "ruleKey": rule.key, "variationKey": variation, "enabled": true,
                    "experimentId": rule.id, "decisionEventDispatched": dispatched == 1, "variables": {}, "reasons": []}});
                let n = n.to_string();
                unsafe { flagwire_on_notification_json(client, n.as_ptr(), n.len(), ptr::null_mut()) }
            };
            match (rule.experiment, dispatched) {
                (true, 1) => {
                    assert_eq!(status, FlagwireStatus::Ok);
                    expected += 1
                }
                (true, _) => disabled += 1,
                (false, _) => {
                    assert_eq!(status, FlagwireStatus::Skipped);
                    rollouts += 1
                }
            }
        }
    }
    assert_eq!(unsafe { flagwire_flush(client, 10_000) }, FlagwireStatus::Ok);
    let stats = take(unsafe { flagwire_stats(client) });
    assert_eq!(unsafe { flagwire_shutdown(client, 5_000) }, FlagwireStatus::Ok);

    std::thread::sleep(std::time::Duration::from_millis(300)); // let the collector's printer catch up
    let received = collector.messages();
    let requests = collector.requests();
    println!();
    println!("decisions for {users} users on {} flag(s) from {datafile_path}", flags.len());
    println!("  experiment exposures expected: {expected}");
    println!("  rollout decisions (not exposures): {rollouts}");
    println!("  experiment decisions with DISABLE_DECISION_EVENT (not exposures): {disabled}");
    println!("collector received {} Experiment Viewed events in {} gzip'd /v1/batch requests", received.len(), requests.len());
    println!("client stats: {stats}");
    let ok = received.len() == expected;
    if ok {
        println!("OK: every exposure arrived exactly once, no rollout was counted as an experiment.");
    } else {
        eprintln!("MISMATCH: expected {expected} events, the collector holds {}", received.len());
    }
    // scripts/demo.sh sets this when run in a terminal: keep the page up until Ctrl-C.
    if std::env::var_os("FLAGWIRE_DEMO_KEEP_UP").is_some() {
        keep_up_until_ctrl_c(&collector.url());
    }
    std::process::exit(if ok { 0 } else { 1 });
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Serves the live page until SIGINT, then returns (so the exit status is still the demo's).
fn keep_up_until_ctrl_c(url: &str) {
    println!();
    println!("live exposure page: {url}/  (the collector stays up; Ctrl-C to stop)");
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe { libc::signal(libc::SIGINT, on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    while !INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!();
}
