//! Profiling aid: calls `flagwire_on_decision_record` in a tight loop (for perf / callgrind).
//! `cargo run --release --example hotloop -- N`
use std::ffi::CString;
use std::ptr;

use flagwire::ffi::*;
use flagwire::FlagwireStatus;
use flagwire_collector::{Collector, CollectorOptions};

#[path = "../tests/common/record.rs"]
mod record;
use record::Record;

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let col = Collector::start(CollectorOptions::default()).unwrap();
    let cfg = CString::new(format!(
        r#"{{"write_key":"k","endpoint":"{}","max_queue_events":2000000,"max_queue_bytes":2000000000,"log_level":"off"}}"#,
        col.url()
    ))
    .unwrap();
    let mut c = ptr::null_mut();
    assert_eq!(unsafe { flagwire_init(cfg.as_ptr(), &mut c, ptr::null_mut()) }, FlagwireStatus::Ok);
    let df = include_str!("../tests/data/minimal-datafile.json");
    assert_eq!(unsafe { flagwire_set_datafile_json(c, df.as_ptr(), df.len(), ptr::null_mut()) }, FlagwireStatus::Ok);
    let mut r = Record::new("user-123456", "checkout_flow", Some("checkout_ab"), Some("treatment"));
    r.dispatched = 1;
    r.attributes_json = Some(r#"{"plan":"premium","country":"DE"}"#);
    let rec = r.encode();
    let cpu = || {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
    };
    let cpu_start = cpu();
    let start = std::time::Instant::now();
    for _ in 0..n {
        let st = unsafe { flagwire_on_decision_record(c, rec.as_ptr(), rec.len(), ptr::null_mut()) };
        assert_eq!(st, FlagwireStatus::Ok);
    }
    let el = start.elapsed();
    println!("{n} calls: {:.0} ns/call wall, {:.0} ns/call on this thread's CPU", el.as_nanos() as f64 / n as f64, (cpu() - cpu_start) / n as f64);
    let _ = unsafe { flagwire_flush(c, 60_000) };
    let _ = unsafe { flagwire_shutdown(c, 10_000) };
}
