//! `cargo bench --bench core`: the caller-thread cost of the hot path and the sender's delivered
//! throughput to the local collector with gzip (DESIGN §9 goals: ≤ 300 ns per on_flag_decision,
//! ≤ 2 µs per on_decision, ≥ 200,000 events/s delivered).
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

/// Events/s from the first call until the collector has acknowledged all of them.
fn throughput(cr: &mut Criterion) {
    let col = Collector::start(CollectorOptions::default()).unwrap();
    let mut g = cr.benchmark_group("delivered");
    const N: u64 = 200_000;
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    for batch in [100u32, 500] {
        g.bench_function(format!("gzip_batch_{batch}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    col.reset();
                    let c = client(&col.url(), json!({"batch_size": batch}));
                    let start = Instant::now();
                    for i in 0..N {
                        let u = CString::new(format!("user-{i}")).unwrap();
                        let st = unsafe {
                            flagwire_on_flag_decision(c, u.as_ptr(), c"checkout_flow".as_ptr(), c"checkout_ab".as_ptr(), c"treatment".as_ptr(), 1, 1, c"{\"plan\":\"premium\"}".as_ptr())
                        };
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
    g.finish();
}

criterion_group!(benches, caller_cost, throughput);
criterion_main!(benches);
