#![allow(deprecated)] // the ABI 1 fast path is measured beside ABI 2 for comparison
//! `cargo bench --bench core`: the caller-thread cost of the hot path and the sender's delivered
//! throughput to the local collector with gzip at 0 and 50 ms per request, and gzip's own cost per
//! batch (docs/design.md §9 goals:
//! ≤ 300 ns per decision, ≤ 2 µs per whole notification).
//!
//! Caller cost is measured with a collector that accepts everything and a queue large enough that
//! nothing is dropped; the sender drains concurrently, as in production.

use std::ffi::CString;
use std::ptr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flagwire::ffi::*;
use flagwire::FlagwireStatus;
use flagwire_collector::{Collector, CollectorOptions};
use serde_json::json;

#[path = "../tests/common/record.rs"]
mod record;
use record::Record;

fn client(endpoint: &str, extra: serde_json::Value) -> *mut FlagwireClient {
    let mut cfg = json!({"write_key": "bench", "endpoint": endpoint, "max_queue_events": 1_000_000,
                         "max_queue_bytes": 1usize << 30, "log_level": "off"});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let cfg = CString::new(cfg.to_string()).unwrap();
    let mut c = ptr::null_mut();
    assert_eq!(unsafe { flagwire_init(cfg.as_ptr(), &mut c, ptr::null_mut()) }, FlagwireStatus::Ok);
    c
}

fn caller_cost(cr: &mut Criterion) {
    let col = Collector::start(CollectorOptions::default()).unwrap();
    let c = client(&col.url(), json!({}));
    let df = CString::new(include_str!("../tests/data/minimal-datafile.json")).unwrap();
    assert_eq!(unsafe { flagwire_set_datafile(c, df.as_ptr()) }, FlagwireStatus::Ok);
    let (u, f, r, v) = (c"user-123456", c"checkout_flow", c"checkout_ab", c"treatment");
    let attrs = c"{\"plan\":\"premium\",\"country\":\"DE\"}";
    let mut g = cr.benchmark_group("caller");
    g.throughput(Throughput::Elements(1));
    // ABI 2: the decision record every binding sends (ids included, as the SDKs give them).
    let mut exposure = Record::new("user-123456", "checkout_flow", Some("checkout_ab"), Some("treatment"));
    exposure.experiment_id = Some("2001");
    exposure.variation_id = Some("5002");
    exposure.dispatched = 1;
    exposure.attributes_json = Some(r#"{"plan":"premium","country":"DE"}"#);
    let rec = exposure.encode();
    g.bench_function("decision_record", |b| {
        b.iter(|| unsafe { flagwire_on_decision_record(c, rec.as_ptr(), rec.len(), ptr::null_mut()) })
    });
    let skipped = Record { rule_key: Some("checkout_delivery"), variation_key: Some("on"), experiment_id: Some("6001"), variation_id: Some("7001"), ..exposure };
    let rec_skipped = skipped.encode();
    g.bench_function("decision_record_rollout_skipped", |b| {
        b.iter(|| unsafe { flagwire_on_decision_record(c, rec_skipped.as_ptr(), rec_skipped.len(), ptr::null_mut()) })
    });
    g.bench_function("on_flag_decision", |b| {
        b.iter(|| unsafe { flagwire_on_flag_decision(c, u.as_ptr(), f.as_ptr(), r.as_ptr(), v.as_ptr(), 1, 1, attrs.as_ptr()) })
    });
    g.bench_function("on_flag_decision_rollout_skipped", |b| {
        b.iter(|| unsafe {
            flagwire_on_flag_decision(c, u.as_ptr(), f.as_ptr(), c"checkout_delivery".as_ptr(), c"on".as_ptr(), 1, 0, attrs.as_ptr())
        })
    });
    let n = CString::new(
        json!({"type":"flag","userId":"user-123456","attributes":{"plan":"premium","country":"DE"},
               "decisionInfo":{"flagKey":"checkout_flow","enabled":true,"variables":{"button_color":"green"},
               "variationKey":"treatment","ruleKey":"checkout_ab","reasons":[],"decisionEventDispatched":true,
               "experimentId":"2001","variationId":"5002"}})
        .to_string(),
    )
    .unwrap();
    g.bench_function("on_decision_json", |b| b.iter(|| unsafe { flagwire_on_decision(c, n.as_ptr()) }));
    g.finish();
    assert_eq!(unsafe { flagwire_shutdown(c, 60_000) }, FlagwireStatus::Ok);
}

/// Events/s from the first call until the collector has acknowledged all of them, with the
/// library's delivery defaults, at 0 and 50 ms per request (the collector's latency setting:
/// a figure measured only against 127.0.0.1 would mislead). The full sweep against Segment's
/// libraries is scripts/bench-latency.sh.
fn throughput(cr: &mut Criterion) {
    let col = Collector::start(CollectorOptions::default()).unwrap();
    let mut g = cr.benchmark_group("delivered");
    const N: u64 = 200_000;
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    for latency_ms in [0u64, 50] {
        col.set_latency(Duration::from_millis(latency_ms), Duration::ZERO);
        g.bench_function(format!("defaults_{latency_ms}ms"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut rec = Vec::with_capacity(256);
                for _ in 0..iters {
                    col.reset();
                    let c = client(&col.url(), json!({}));
                    let start = Instant::now();
                    for i in 0..N {
                        let user = format!("user-{i}");
                        let mut r = Record::new(&user, "checkout_flow", Some("checkout_ab"), Some("treatment"));
                        r.dispatched = 1;
                        r.attributes_json = Some(r#"{"plan":"premium"}"#);
                        rec.clear();
                        r.encode_into(&mut rec);
                        let st = unsafe { flagwire_on_decision_record(c, rec.as_ptr(), rec.len(), ptr::null_mut()) };
                        assert_eq!(st, FlagwireStatus::Ok);
                    }
                    assert_eq!(unsafe { flagwire_flush(c, 120_000) }, FlagwireStatus::Ok);
                    total += start.elapsed();
                    assert_eq!(col.messages().len() as u64, N);
                    assert_eq!(unsafe { flagwire_shutdown(c, 10_000) }, FlagwireStatus::Ok);
                }
                total
            })
        });
    }
    col.set_latency(Duration::ZERO, Duration::ZERO);
    g.finish();
}

/// gzip of one full default batch (250 events as the collector received them, re-serialized), at
/// the level the sender uses: what the sender's compression costs per event.
fn gzip(cr: &mut Criterion) {
    use std::io::Write;
    let col = Collector::start(CollectorOptions::default()).unwrap();
    let c = client(&col.url(), json!({}));
    let mut rec = Vec::with_capacity(256);
    for i in 0..250 {
        let user = format!("user-{i}");
        let mut r = Record::new(&user, "checkout_flow", Some("checkout_ab"), Some("treatment"));
        r.dispatched = 1;
        r.attributes_json = Some(r#"{"plan":"premium","country":"DE"}"#);
        rec.clear();
        r.encode_into(&mut rec);
        assert_eq!(unsafe { flagwire_on_decision_record(c, rec.as_ptr(), rec.len(), ptr::null_mut()) }, FlagwireStatus::Ok);
    }
    assert_eq!(unsafe { flagwire_shutdown(c, 10_000) }, FlagwireStatus::Ok);
    let body = json!({"batch": col.messages(), "sentAt": "2026-12-01T00:00:00.000Z"}).to_string();
    let compress = || {
        let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 8 + 64), flate2::Compression::fast());
        enc.write_all(body.as_bytes()).unwrap();
        enc.finish().unwrap()
    };
    eprintln!("gzip: a 250-event batch of {} bytes -> {} bytes", body.len(), compress().len());
    let mut g = cr.benchmark_group("gzip");
    g.throughput(Throughput::Elements(250));
    g.bench_function("batch_250_level_fast", |b| b.iter(compress));
    g.finish();
}

/// Profile API: a cached lookup's cost, and a miss's added latency (one HTTP round trip to the
/// local collector's fixture profiles).
fn profile(cr: &mut Criterion) {
    let col = Collector::start(CollectorOptions::default()).unwrap();
    col.set_profiles(json!({"space_id": "spa", "access_token": "tok", "profiles": [
        {"external_ids": [{"type": "user_id", "id": "u1"}], "traits": {"plan": "pro", "seats": 40, "beta": true},
         "links": [{"type": "group_id", "id": "acme"}]}]}))
    .unwrap();
    let c = client(
        &col.url(),
        json!({"profile": {"space_id": "spa", "access_token": "tok", "endpoint": col.url(), "account_bucketing": true,
                           "cache_ttl_ms": 3_600_000, "timeout_ms": 1000}}),
    );
    let lookup = |id: &str| {
        let mut out = ptr::null_mut();
        let st = unsafe {
            flagwire_profile_lookup(c, FlagwireProfileField::Attributes, id.as_ptr(), id.len(), &mut out, ptr::null_mut())
        };
        unsafe { flagwire_string_free(out) };
        st
    };
    assert_eq!(lookup("user_id:u1"), FlagwireStatus::Ok);
    let mut g = cr.benchmark_group("profile");
    g.bench_function("cached_attributes", |b| b.iter(|| lookup("user_id:u1")));
    // Misses: distinct unknown ids (404, cached negatively afterwards), each one round trip.
    let mut n = 0u64;
    g.bench_function("miss_attributes_404", |b| {
        b.iter(|| {
            n += 1;
            lookup(&format!("user_id:nobody-{n}"))
        })
    });
    g.finish();
    let _ = unsafe { flagwire_shutdown(c, 1000) };
}

criterion_group!(benches, caller_cost, throughput, gzip, profile);
criterion_main!(benches);
