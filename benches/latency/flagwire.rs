//! flagwire's side of the latency benchmark (benches/latency/README.md): the core with its
//! default configuration, driven through the C ABI (`flagwire_on_decision_record`, ABI 2
//! decision records), as every binding drives it.
//!
//! `latency URL SECS RATE`: offers RATE decisions/s (paced in 1 ms slices; as fast as the calls
//! return when that is slower) for SECS seconds, then prints the offer report as one JSON line,
//! flushes (delivering what is held), prints the close report, waits for stdin to close (the
//! runner reads the peak RSS meanwhile) and shuts down. Built and run by
//! scripts/bench-latency.sh (`cargo bench --bench latency --no-run`).

#[path = "../../tests/common/record.rs"]
mod record;
use record::Record;
use std::ffi::{CStr, CString};
use std::io::Write;
use std::ptr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flagwire::ffi::*;
use flagwire::FlagwireStatus;

/// The two attributes every library's event carries.
const ATTRIBUTES: &str = r#"{"plan":"enterprise","country":"DE"}"#;

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn stats(client: *const FlagwireClient) -> serde_json::Value {
    let s = unsafe { flagwire_stats(client) };
    if s.is_null() {
        return serde_json::Value::Null;
    }
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { flagwire_string_free(s) };
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a.starts_with("--")) {
        // `cargo bench` / `cargo test --benches` probing: nothing to measure without a collector.
        return;
    }
    let url = &args[0];
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let rate: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000.0);
    let key = std::env::var("LATENCY_WRITE_KEY").unwrap_or_else(|_| "latency-bench".into());

    // Defaults: only what has no default (the write key) and the collector's URL. For the
    // analysis of a shortfall, LATENCY_FLAGWIRE_CONFIG (a JSON object) overrides keys; the
    // benchmark itself never sets it.
    let mut config = serde_json::json!({"write_key": key, "endpoint": url});
    if let Ok(extra) = std::env::var("LATENCY_FLAGWIRE_CONFIG") {
        let extra: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&extra).expect("LATENCY_FLAGWIRE_CONFIG must be a JSON object");
        config.as_object_mut().unwrap().extend(extra);
    }
    let config = CString::new(config.to_string()).unwrap();
    let mut client = ptr::null_mut();
    let st = unsafe { flagwire_init(config.as_ptr(), &mut client, ptr::null_mut()) };
    assert_eq!(st, FlagwireStatus::Ok, "flagwire_init");

    let (mut offered, mut accepted, mut refused, mut other) = (0u64, 0u64, 0u64, 0u64);
    let mut rec = Vec::with_capacity(256);
    let mut user = String::with_capacity(32);
    let first_offer_ms = unix_ms();
    let start = Instant::now();
    let window = Duration::from_secs_f64(secs);
    loop {
        let elapsed = start.elapsed();
        if elapsed >= window {
            break;
        }
        let due = (elapsed.as_secs_f64() * rate) as u64;
        while offered < due {
            use std::fmt::Write as _;
            user.clear();
            let _ = write!(user, "user-{offered}");
            let mut r = Record::new(&user, "checkout_flow", Some("checkout_ab"), Some("treatment"));
            r.experiment_id = Some("20001");
            r.variation_id = Some("30002");
            r.dispatched = 1;
            r.attributes_json = Some(ATTRIBUTES);
            rec.clear();
            r.encode_into(&mut rec);
            match unsafe { flagwire_on_decision_record(client, rec.as_ptr(), rec.len(), ptr::null_mut()) } {
                FlagwireStatus::Ok => accepted += 1,
                FlagwireStatus::QueueFull => refused += 1,
                _ => other += 1,
            }
            offered += 1;
            if offered % 256 == 0 && start.elapsed() >= window {
                break; // same rule as every harness: a slow call must not overrun the window
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let offer_end_ms = unix_ms();
    println!(
        "{}",
        serde_json::json!({"phase": "offered", "first_offer_ms": first_offer_ms, "offer_end_ms": offer_end_ms,
            "offered": offered, "accepted": accepted, "refused": refused + other,
            "refused_detail": format!("{refused} QUEUE_FULL, {other} other statuses")})
    );
    let _ = std::io::stdout().flush();

    // Everything accepted is delivered by shutdown (its deadline is far beyond the run's cap).
    let st = unsafe { flagwire_flush(client, 120_000) };
    let s = stats(client);
    println!(
        "{}",
        serde_json::json!({"phase": "closed", "closed_ms": unix_ms(), "flush": format!("{st:?}"),
            "failed": s.get("failed"), "stats": s})
    );
    let _ = std::io::stdout().flush();
    // The runner reads this process's peak RSS and its threads' scheduling figures now (so the
    // sender's threads are still there), then closes our stdin.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    let _ = unsafe { flagwire_shutdown(client, 1_000) };
}
