//! Bounded memory under an outage: offers 100,000 decisions/s for 60 s to a collector that is
//! down, and reports peak RSS against the configured queue bound + 20 MB.
//!
//! `cargo bench --bench outage` (env: OUTAGE_SECS=60, OUTAGE_RATE=100000,
//! OUTAGE_QUEUE_EVENTS=10000, OUTAGE_QUEUE_BYTES=16777216). Exits non-zero over the limit.

#[path = "../tests/common/record.rs"]
mod record;
use record::Record;
use std::ffi::CString;
use std::ptr;
use std::time::{Duration, Instant};

use flagwire::ffi::*;
use flagwire::FlagwireStatus;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// (current RSS, peak RSS) in bytes, from /proc/self/status.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` probing
    }
    let secs = env("OUTAGE_SECS", 60);
    let rate = env("OUTAGE_RATE", 100_000);
    let queue_events = env("OUTAGE_QUEUE_EVENTS", 10_000);
    let queue_bytes = env("OUTAGE_QUEUE_BYTES", 16 * 1024 * 1024);
    // A port nobody listens on: every request is refused, as during a Segment outage.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = CString::new(format!(
        r#"{{"write_key":"k","endpoint":"http://127.0.0.1:{port}","max_queue_events":{queue_events},"max_queue_bytes":{queue_bytes},"log_level":"off"}}"#
    ))
    .unwrap();
    let (baseline, _) = rss();
    let mut client = ptr::null_mut();
    assert_eq!(unsafe { flagwire_init(config.as_ptr(), &mut client, ptr::null_mut()) }, FlagwireStatus::Ok);

    let start = Instant::now();
    let (mut offered, mut full, mut peak_seen) = (0u64, 0u64, 0u64);
    let attrs = r#"{"plan":"enterprise","country":"DE","app_version":"5.12.0"}"#;
    let mut rec = Vec::with_capacity(256);
    while start.elapsed() < Duration::from_secs(secs) {
        // Pace in slices of 1 ms.
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while offered < due {
            let user = format!("user-{offered}");
            let mut r = Record::new(&user, "checkout_flow", Some("checkout_ab"), Some("treatment"));
            r.dispatched = 1;
            r.attributes_json = Some(attrs);
            rec.clear();
            r.encode_into(&mut rec);
            let st = unsafe { flagwire_on_decision_record(client, rec.as_ptr(), rec.len(), ptr::null_mut()) };
            match st {
                FlagwireStatus::Ok => {}
                FlagwireStatus::QueueFull => full += 1,
                other => panic!("unexpected status {other:?}"),
            }
            offered += 1;
        }
        if offered % 100_000 < 100 {
            peak_seen = peak_seen.max(rss().0);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (now, peak) = rss();
    let bound = queue_bytes + 20 * 1024 * 1024;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("outage: {offered} decisions offered in {secs} s ({:.0}/s), {full} dropped as QUEUE_FULL", offered as f64 / secs as f64);
    println!(
        "outage: RSS baseline {:.1} MiB, now {:.1} MiB, peak {:.1} MiB; limit (max_queue_bytes {:.1} MiB + 20 MiB) {:.1} MiB",
        mib(baseline), mib(now), mib(peak.max(peak_seen)), mib(queue_bytes), mib(bound)
    );
    if let Ok(path) = std::env::var("FLAGWIRE_BENCH_JSON") {
        let report = serde_json::json!({"language": "rust", "commands": ["cargo bench --bench outage   # OUTAGE_SECS=60"], "measures": [{
            "name": "peak RSS, 60 s outage at 100,000 decisions/s", "unit": "MiB", "better": "lower",
            "goal": format!("<= queue bound + 20 MiB ({:.0} MiB)", mib(bound)), "goal_value": mib(bound),
            "flagwire": {"median": mib(peak.max(peak_seen)), "samples": [mib(peak.max(peak_seen))]},
            "note": format!("{offered} offered over {secs} s, {full} dropped as QUEUE_FULL, baseline RSS {:.1} MiB", mib(baseline)),
        }]});
        std::fs::write(path, report.to_string()).expect("write FLAGWIRE_BENCH_JSON");
    }
    let _ = unsafe { flagwire_shutdown(client, 100) };
    if peak > bound {
        println!("outage: FAIL peak RSS over the limit");
        std::process::exit(1);
    }
    println!("outage: OK peak RSS within the limit");
}
