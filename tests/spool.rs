//! The disk spool (issue 17, docs/design.md §5.1) over real HTTP to the collector: config,
//! write-ahead, an outage far longer than the retries and the memory bound, what shutdown leaves
//! for the next process, the disk bound, corrupt files, a refused message inside a spool file.
//! Crashes and processes: tests/spool_crash.rs and tests/spool_processes.rs.

mod common;
#[path = "spool_util/mod.rs"]
mod spool_util;

use common::*;
use serde_json::json;
use spool_util::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn spool_config_is_checked_and_its_stats_are_zero_without_it() {
    let col = collector();
    let dir = TempDir::new("cfg");
    let cases = [
        (json!({}), "`spool.dir`"),
        (json!({"dir": ""}), "`spool.dir`"),
        (json!({"dir": dir.str(), "sync": "sometimes"}), "spool"),
        (json!({"dir": dir.str(), "max_bytes": 1000}), "`spool.max_bytes` must be an integer in 1048576..=68719476736"),
        (json!({"dir": dir.str(), "sync_interval_ms": 0}), "`spool.sync_interval_ms`"),
        (json!({"dir": dir.str(), "directory": "x"}), "directory"),
    ];
    for (spool, expected) in cases {
        let mut cfg = config(&col.url(), json!({}));
        cfg["spool"] = spool.clone();
        let (status, message) = TestClient::try_new(&cfg).err().unwrap_or_else(|| panic!("{spool} accepted"));
        assert_eq!(status, Status::InvalidConfig, "{spool}: {message}");
        assert!(message.contains(expected), "{spool}: {message}");
    }
    let client = TestClient::new(&config(&col.url(), json!({})));
    let stats = client.stats();
    for key in ["spooled", "unspooled", "spool_recovered", "spool_dropped", "spool_corrupt_files", "spool_unwritable", "spool_files", "spool_bytes", "spool_safe"] {
        assert_eq!(stat(&stats, key), 0, "{key}");
    }
    for sync in ["always", "interval", "never"] {
        let c = TestClient::new(&spool_config(&col.url(), &dir, json!({}), json!({"sync": sync, "max_bytes": 1 << 20})));
        assert_eq!(offer(&c, &format!("u-{sync}")), Status::Ok);
        assert_eq!(c.flush(10_000), Status::Ok);
        assert_eq!(c.shutdown(5000), Status::Ok);
    }
    assert_eq!(wait_messages(&col, 3).len(), 3);
    assert!(spool_files(dir.path()).is_empty(), "delivered batches are removed");
}

#[test]
fn a_batch_is_on_disk_while_it_is_being_sent_and_removed_after_the_2xx() {
    let col = collector();
    let dir = TempDir::new("ahead");
    col.script(vec![Step::Status { code: 200, retry_after: None, delay_ms: 1500 }]);
    let client = TestClient::new(&spool_config(&col.url(), &dir, json!({"batch_size": 5}), json!({})));
    for i in 0..5 {
        assert_eq!(offer(&client, &format!("w{i}")), Status::Ok);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while col.in_flight() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(col.in_flight(), 1, "the request is on the wire");
    let files = spool_files(dir.path());
    assert_eq!(files.len(), 1, "written before the first attempt: {files:?}");
    let users: HashSet<String> = file_messages(&files[0]).iter().map(|m| m["userId"].as_str().unwrap().to_string()).collect();
    assert_eq!(users, (0..5).map(|i| format!("w{i}")).collect());
    let stats = client.stats();
    assert_eq!((stat(&stats, "spool_safe"), stat(&stats, "spool_files")), (5, 1), "{stats}");
    assert_eq!(client.flush(20_000), Status::Ok);
    assert!(spool_files(dir.path()).is_empty(), "removed after the 2xx");
    // The file held the very bytes that were sent: same messageIds.
    let sent: HashSet<String> = message_ids(&col.messages()).into_iter().collect();
    let stats = client.stats();
    assert_eq!(sent.len(), 5);
    assert_eq!((stat(&stats, "spooled"), stat(&stats, "unspooled")), (0, 0), "written ahead is not spooled: {stats}");
    assert_invariant(&stats);
}

/// Offers `rate` exposures/s for `secs` (users `prefix0..`), starting at `start`; the count.
fn offer_for(client: &TestClient, prefix: &str, start: usize, rate: f64, secs: f64, refused: &mut Vec<String>) -> usize {
    let began = Instant::now();
    let total = (rate * secs) as usize;
    let mut i = 0;
    while i < total {
        let due = ((began.elapsed().as_secs_f64() * rate) as usize).min(total);
        while i < due {
            let user = format!("{prefix}{}", start + i);
            if offer(client, &user) != Status::Ok {
                refused.push(user);
            }
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    total
}

/// A 10-minute outage of a service offering its usual rate, scaled down: with the defaults the
/// retries give up after about a minute and memory holds `max_queue_events`; here the retries
/// give up within ~0.1 s and memory holds 400 events, and the receiver answers 503 for 1.5 s,
/// then is down (connection refused) for 1.5 s, while 1,000 events/s keep coming (3,000 in the
/// outage, 7.5x what memory holds, 30x the retry budget). Nothing is lost: every event arrives
/// with one messageId. Without the spool the same run loses events (the control at the end).
#[test]
fn a_long_outage_at_a_steady_rate_loses_nothing_within_the_disk_bound() {
    let run = |with_spool: bool| {
        let dir = TempDir::new("outage");
        let first = collector();
        let port = first.port();
        let extra = json!({"max_queue_events": 400, "batch_size": 50, "flush_interval_ms": 50, "max_retries": 2,
                           "backoff_base_ms": 10, "backoff_max_ms": 50, "request_timeout_ms": 2000});
        let cfg = if with_spool { spool_config(&first.url(), &dir, extra, json!({"sync": "interval"})) } else { config(&first.url(), extra) };
        let client = TestClient::new(&cfg);
        let mut refused = Vec::new();
        let mut n = offer_for(&client, "o", 0, 1000.0, 0.5, &mut refused);
        first.script(vec![Step::status(503); 100_000]);
        n += offer_for(&client, "o", n, 1000.0, 1.5, &mut refused);
        let mut messages = first.messages();
        first.stop();
        n += offer_for(&client, "o", n, 1000.0, 1.5, &mut refused);
        let second = collector_on(port, 0);
        n += offer_for(&client, "o", n, 1000.0, 0.5, &mut refused);
        let flushed = client.flush(60_000);
        let stats = wait_stats(&client, Duration::from_secs(30), |s| stat(s, "queue_depth") == 0);
        messages.extend(second.messages());
        (n, refused, flushed, stats, messages, spool_files(dir.path()).len())
    };
    let (n, refused, flushed, stats, messages, left) = run(true);
    eprintln!("with the spool: {n} offered, {} deliveries; {stats}", messages.len());
    assert!(refused.is_empty(), "{} refused at the call, e.g. {:?}: {stats}", refused.len(), refused.first());
    assert_eq!(flushed, Status::Ok, "{stats}");
    let by_user = deliveries(&messages);
    let missing: Vec<String> = (0..n).map(|i| format!("o{i}")).filter(|u| !by_user.contains_key(u)).collect();
    assert!(missing.is_empty(), "{} of {n} lost, e.g. {:?}: {stats}", missing.len(), &missing[..missing.len().min(5)]);
    assert_eq!(by_user.len(), n, "only offered users");
    let repeats = assert_repeats_share_message_ids(&by_user);
    assert!(repeats <= 100, "{repeats} repeats (only requests cut by the receiver's stop may repeat)");
    assert!(stat(&stats, "spooled") > 400, "the outage went to disk: {stats}");
    assert_eq!(stat(&stats, "unspooled"), stat(&stats, "spooled"), "{stats}");
    assert_eq!((stat(&stats, "failed"), stat(&stats, "dropped_queue_full"), stat(&stats, "spool_files")), (0, 0, 0), "{stats}");
    assert_eq!(left, 0, "nothing left on disk");
    assert_invariant(&stats);

    // The control: the same run without the spool loses events (the test can fail).
    let (n, refused, _, stats, messages, _) = run(false);
    eprintln!("without: {n} offered, {} refused at the call, {} delivered; {stats}", refused.len(), messages.len());
    let delivered: HashSet<_> = deliveries(&messages).into_keys().collect();
    assert!(refused.len() + (n - delivered.len().min(n)) > 0 && stat(&stats, "failed") + stat(&stats, "dropped_queue_full") > 0,
            "without a spool this outage must lose events: {stats}");
}

#[test]
fn what_is_left_at_the_shutdown_deadline_is_delivered_by_the_next_client_once() {
    let dir = TempDir::new("left");
    let port = dead_port();
    let down = format!("http://127.0.0.1:{port}");
    let extra = json!({"batch_size": 7, "max_retries": 1, "backoff_base_ms": 5, "backoff_max_ms": 20});
    let first = TestClient::new(&spool_config(&down, &dir, extra.clone(), json!({})));
    for i in 0..50 {
        assert_eq!(offer(&first, &format!("l{i}")), Status::Ok);
    }
    assert_eq!(first.shutdown(300), Status::Timeout, "the receiver is down");
    let on_disk: Vec<serde_json::Value> = spool_files(dir.path()).iter().flat_map(|f| file_messages(f)).collect();
    assert_eq!(on_disk.len(), 50, "every event is on disk after shutdown");
    let ids_on_disk: HashSet<String> = message_ids(&on_disk).into_iter().collect();

    let col = collector_on(port, 0);
    let second = TestClient::new(&spool_config(&col.url(), &dir, extra, json!({})));
    let stats = wait_stats(&second, Duration::from_secs(20), |s| stat(s, "spool_files") == 0 && stat(s, "spool_recovered") == 50);
    assert_eq!((stat(&stats, "spool_recovered"), stat(&stats, "unspooled"), stat(&stats, "delivered")), (50, 50, 50), "{stats}");
    assert_eq!((stat(&stats, "enqueued"), stat(&stats, "queue_depth"), stat(&stats, "failed")), (0, 0, 0), "{stats}");
    let messages = wait_messages(&col, 50);
    assert_eq!(messages.len(), 50, "once");
    assert_eq!(message_ids(&messages).into_iter().collect::<HashSet<_>>(), ids_on_disk, "the messageIds written");
    assert_eq!(second.shutdown(5000), Status::Ok);
    let third = TestClient::new(&spool_config(&col.url(), &dir, json!({}), json!({})));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stat(&third.stats(), "spool_recovered"), 0, "delivered files are gone: not sent twice");
    drop(third);
    assert_eq!(col.messages().len(), 50);
}

#[test]
fn the_disk_bound_holds_and_the_oldest_events_are_dropped_and_counted() {
    let dir = TempDir::new("bound");
    let port = dead_port();
    let max_bytes: u64 = 1 << 20;
    let extra = json!({"batch_size": 100, "flush_interval_ms": 20, "max_retries": 0, "backoff_base_ms": 5, "backoff_max_ms": 20});
    let client = TestClient::new(&spool_config(&format!("http://127.0.0.1:{port}"), &dir, extra, json!({"max_bytes": max_bytes})));
    let n = 6000;
    let attrs = format!(r#"{{"pad":"{}"}}"#, "p".repeat(200));
    for i in 0..n {
        let status = client.flag(&format!("b{i}"), "f", Some("r"), Some("v"), true, 1, Some(&attrs));
        assert_eq!(status, Status::Ok, "{i}");
        if i % 500 == 499 {
            let s = client.stats();
            assert!(stat(&s, "spool_bytes") <= max_bytes, "{s}");
            let on_disk: u64 = spool_files(dir.path()).iter().map(|f| f.metadata().map_or(0, |m| m.len())).sum();
            assert!(on_disk <= max_bytes, "{on_disk} bytes on disk");
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    assert_eq!(client.flush(300), Status::Timeout);
    let stats = client.stats();
    let dropped = stat(&stats, "spool_dropped");
    assert!(dropped > 0 && stat(&stats, "spool_bytes") <= max_bytes, "{stats}");
    let col = collector_on(port, 0);
    assert_eq!(client.flush(30_000), Status::Ok);
    let stats = client.stats();
    let by_user = deliveries(&col.messages());
    assert_repeats_share_message_ids(&by_user);
    assert_eq!(by_user.len() as u64 + stat(&stats, "spool_dropped"), n, "delivered + dropped = offered: {stats}");
    assert!(!by_user.contains_key("b0") && by_user.contains_key(&format!("b{}", n - 1)), "the oldest went, the newest stayed");
    assert_eq!(stat(&stats, "queue_depth"), 0, "{stats}");
    assert_eq!(stat(&stats, "enqueued"), stat(&stats, "delivered") + stat(&stats, "failed") + stat(&stats, "spool_dropped"), "{stats}");
}

#[test]
fn corrupt_files_are_skipped_counted_and_never_block_the_rest() {
    let dir = TempDir::new("corrupt");
    let port = dead_port();
    let extra = json!({"batch_size": 10, "flush_interval_ms": 10, "max_retries": 0, "backoff_base_ms": 5, "backoff_max_ms": 10});
    let first = TestClient::new(&spool_config(&format!("http://127.0.0.1:{port}"), &dir, extra.clone(), json!({})));
    for i in 0..60 {
        assert_eq!(offer(&first, &format!("k{i}")), Status::Ok);
        if i % 10 == 9 {
            std::thread::sleep(Duration::from_millis(40));
        }
    }
    assert_eq!(first.shutdown(300), Status::Timeout);
    let files = spool_files(dir.path());
    assert!(files.len() >= 5, "{files:?}");
    let users = |f: &std::path::Path| -> Vec<String> { file_messages(f).iter().map(|m| m["userId"].as_str().unwrap().to_string()).collect() };
    // 1: the tail cut off; 2: one byte flipped; the rest stay whole.
    let (truncated, flipped) = (&files[0], &files[1]);
    let mut lost: HashSet<String> = users(truncated).into_iter().chain(users(flipped)).collect();
    let bytes = std::fs::read(truncated).unwrap();
    std::fs::write(truncated, &bytes[..bytes.len() - 25]).unwrap();
    let mut bytes = std::fs::read(flipped).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    std::fs::write(flipped, &bytes).unwrap();
    let kept: HashSet<String> = files[2..].iter().flat_map(|f| users(f)).collect();
    // Garbage and an empty file under names of the right shape, a torn temporary file, and a
    // file that is not the spool's at all.
    let name = |ms: u64, sum: &str| dir.path().join(format!("b{ms:013}-0badf00d-0000000001-3-{sum}.json"));
    std::fs::write(name(1, "0123456789abcdef"), b"\x00\xffgarbage{\"batch\":[").unwrap();
    std::fs::write(name(2, "fedcba9876543210"), b"").unwrap();
    std::fs::write(dir.path().join(".tmp-0badf00d-7"), br#"{"batch":[{"userId":"torn"#).unwrap();
    std::fs::write(dir.path().join("README.txt"), b"operator's notes").unwrap();
    lost.insert("torn".into());

    let col = collector_on(port, 0);
    let second = TestClient::new(&spool_config(&col.url(), &dir, extra, json!({})));
    let stats = wait_stats(&second, Duration::from_secs(20), |s| stat(s, "spool_files") == 0 && stat(s, "spool_corrupt_files") >= 5);
    assert_eq!(stat(&stats, "spool_corrupt_files"), 5, "truncated, flipped, garbage, empty, torn: {stats}");
    let delivered: HashSet<String> = deliveries(&col.messages()).into_keys().collect();
    assert_eq!(delivered, kept, "every whole file delivered, nothing of the corrupt ones");
    assert!(lost.is_disjoint(&delivered));
    assert!(dir.path().join("README.txt").exists(), "files that are not the spool's are left alone");
    assert!(spool_files(dir.path()).iter().all(|f| f.file_name().unwrap() == "README.txt"), "corrupt files removed");
    // The client is unharmed.
    assert_eq!(offer(&second, "after"), Status::Ok);
    assert_eq!(second.flush(10_000), Status::Ok);
    assert!(deliveries(&col.messages()).contains_key("after"));
}

#[test]
fn a_refused_message_inside_a_spool_file_fails_alone() {
    let dir = TempDir::new("poison");
    let port = dead_port();
    let extra = json!({"batch_size": 20, "max_retries": 0, "backoff_base_ms": 5, "backoff_max_ms": 10});
    let first = TestClient::new(&spool_config(&format!("http://127.0.0.1:{port}"), &dir, extra.clone(), json!({})));
    for i in 0..20 {
        let user = if i == 13 { "poison-13".to_string() } else { format!("g{i}") };
        assert_eq!(offer(&first, &user), Status::Ok);
    }
    assert_eq!(first.shutdown(300), Status::Timeout);
    assert_eq!(spool_files(dir.path()).len(), 1);
    let col = collector_on(port, 0);
    col.refuse_messages_containing(Some("poison-13"));
    let second = TestClient::new(&spool_config(&col.url(), &dir, extra, json!({})));
    let stats = wait_stats(&second, Duration::from_secs(20), |s| stat(s, "spool_recovered") == 20 && stat(s, "spool_files") == 0);
    assert_eq!((stat(&stats, "delivered"), stat(&stats, "failed"), stat(&stats, "isolated")), (19, 1, 1), "{stats}");
    let users: HashSet<String> = deliveries(&col.messages()).into_keys().collect();
    assert_eq!(users.len(), 19);
    assert!(!users.contains("poison-13"));
}

/// A receiver that keeps up too slowly (not an outage), 2,000 events/s against one request in
/// flight at 300 ms: without the spool the queue fills and the newest events are refused; with it,
/// memory above half its bound goes to disk and everything arrives. (A burst faster than the
/// sender's thread can write is still refused: the bound is on memory.)
#[test]
fn memory_above_half_its_bound_goes_to_disk_instead_of_queue_full() {
    let run = |with_spool: bool| {
        let dir = TempDir::new("hwm");
        let col = Collector::start(CollectorOptions { write_keys: vec![WRITE_KEY.into()], latency_ms: 300, ..Default::default() }).unwrap();
        let extra = json!({"max_queue_events": 300, "max_in_flight": 1, "batch_size": 100, "flush_interval_ms": 1000});
        let cfg = if with_spool { spool_config(&col.url(), &dir, extra, json!({})) } else { config(&col.url(), extra) };
        let client = TestClient::new(&cfg);
        let mut refused = Vec::new();
        offer_for(&client, "h", 0, 2000.0, 1.0, &mut refused);
        let refused = refused.len();
        assert_eq!(client.flush(60_000), Status::Ok);
        (refused, client.stats(), deliveries(&col.messages()))
    };
    let (refused, stats, by_user) = run(true);
    assert_eq!((refused, by_user.len()), (0, 2000), "{stats}");
    assert!(stat(&stats, "spooled") > 0 && stat(&stats, "dropped_queue_full") == 0, "{stats}");
    assert_invariant(&stats);
    let (refused, stats, _) = run(false);
    assert!(refused > 0 && stat(&stats, "dropped_queue_full") > 0, "without a spool the queue fills: {stats}");
}

#[test]
fn the_backlog_drains_oldest_first_within_the_request_budget_and_the_in_flight_cap() {
    let dir = TempDir::new("drain");
    let port = dead_port();
    let down = json!({"batch_size": 5, "flush_interval_ms": 5, "max_retries": 0, "backoff_base_ms": 5, "backoff_max_ms": 10});
    let first = TestClient::new(&spool_config(&format!("http://127.0.0.1:{port}"), &dir, down, json!({})));
    for i in 0..200 {
        assert_eq!(offer(&first, &format!("d{i:03}")), Status::Ok);
        if i % 5 == 4 {
            std::thread::sleep(Duration::from_millis(8));
        }
    }
    assert_eq!(first.shutdown(300), Status::Timeout);
    let files = spool_files(dir.path()).len();
    assert!(files >= 30, "{files} files");
    let col = collector_on(port, 50);
    let second = TestClient::new(&spool_config(&col.url(), &dir, json!({"max_requests_per_second": 20, "max_in_flight": 2}), json!({})));
    let stats = wait_stats(&second, Duration::from_secs(30), |s| stat(s, "spool_recovered") == 200 && stat(s, "spool_files") == 0);
    assert_eq!(stat(&stats, "unspooled"), 200, "{stats}");
    let mut requests = col.requests();
    requests.sort_by_key(|r| r.received_at_ms);
    assert_eq!(requests.len(), files, "one request per file");
    assert!(col.max_concurrent() <= 2, "in flight at once: {}", col.max_concurrent());
    let times: Vec<u64> = requests.iter().map(|r| r.received_at_ms).collect();
    let busiest = times.iter().enumerate().map(|(i, &t)| times[i..].iter().take_while(|&&u| u < t + 1000).count()).max().unwrap();
    assert!(busiest <= 21, "{busiest} requests in one second, budget 20");
    // Oldest first: each request's events are newer than those of the request two before it
    // (two in flight may arrive in either order).
    let messages = col.messages();
    let user_of = |id: &String| messages.iter().find(|m| m["messageId"] == id.as_str()).unwrap()["userId"].as_str().unwrap().to_string();
    let spans: Vec<(String, String)> = requests.iter().map(|r| {
        let users: Vec<String> = r.message_ids.iter().map(user_of).collect();
        (users.iter().min().unwrap().clone(), users.iter().max().unwrap().clone())
    }).collect();
    for i in 2..spans.len() {
        assert!(spans[i].0 > spans[i - 2].1, "request {i} ({:?}) is not newer than request {} ({:?})", spans[i], i - 2, spans[i - 2]);
    }
}

#[test]
fn a_4xx_refusal_is_failed_with_a_spool_too() {
    let col = collector();
    let dir = TempDir::new("4xx");
    col.script(vec![Step::status(403)]);
    let client = TestClient::new(&spool_config(&col.url(), &dir, json!({"batch_size": 10}), json!({})));
    for i in 0..10 {
        assert_eq!(offer(&client, &format!("f{i}")), Status::Ok);
    }
    assert_eq!(client.flush(10_000), Status::Ok);
    let stats = client.stats();
    assert_eq!((stat(&stats, "failed"), stat(&stats, "spooled"), stat(&stats, "spool_files")), (10, 0, 0), "{stats}");
    assert!(spool_files(dir.path()).is_empty(), "a refused batch's file is removed");
    assert_invariant(&stats);
}

struct Reentrant(std::sync::atomic::AtomicPtr<flagwire::ffi::FlagwireClient>, std::sync::atomic::AtomicUsize);

unsafe extern "C" fn read_stats_while_logging(user_data: *mut std::ffi::c_void, _: flagwire::FlagwireLogLevel, _: *const std::ffi::c_char, _: usize) {
    let r = unsafe { &*(user_data as *const Reentrant) };
    let client = r.0.load(std::sync::atomic::Ordering::Acquire);
    if !client.is_null() {
        take_string(unsafe { flagwire::ffi::flagwire_stats(client) });
        r.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The spool logs (the bound reached, here) from the sender's threads; a host's log callback that
/// reads stats meanwhile must not deadlock on the spool's lock.
#[test]
fn a_log_callback_may_read_stats_while_the_spool_logs() {
    let dir = TempDir::new("reentrant");
    let port = dead_port();
    let extra = json!({"batch_size": 100, "flush_interval_ms": 10, "max_retries": 0, "backoff_base_ms": 5, "backoff_max_ms": 10, "log_level": "warn"});
    let client = std::sync::Arc::new(TestClient::new(&spool_config(&format!("http://127.0.0.1:{port}"), &dir, extra, json!({"max_bytes": 1 << 20}))));
    let hook = Box::leak(Box::new(Reentrant(std::sync::atomic::AtomicPtr::new(client.raw()), std::sync::atomic::AtomicUsize::new(0))));
    let user_data = hook as *const Reentrant as *mut std::ffi::c_void;
    assert_eq!(unsafe { flagwire::ffi::flagwire_set_log_callback(client.raw(), Some(read_stats_while_logging), user_data) }, Status::Ok);
    let offering = std::sync::Arc::clone(&client);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let attrs = format!(r#"{{"pad":"{}"}}"#, "p".repeat(300));
        for i in 0..5000 {
            offering.flag(&format!("r{i}"), "f", Some("r"), Some("v"), true, 1, Some(&attrs));
            if i % 500 == 499 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = done_tx.send(offering.flush(300));
    });
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(status) => assert_eq!(status, Status::Timeout),
        Err(_) => {
            // The stuck threads hold the client: end the test binary instead of hanging it.
            eprintln!("a_log_callback_may_read_stats_while_the_spool_logs: stuck for 60 s (a deadlock)");
            std::process::exit(1);
        }
    }
    let stats = wait_stats(&client, Duration::from_secs(5), |s| stat(s, "spool_dropped") > 0);
    assert!(stat(&stats, "spool_dropped") > 0, "{stats}");
    assert!(hook.1.load(std::sync::atomic::Ordering::Relaxed) > 0, "the callback ran");
    hook.0.store(std::ptr::null_mut(), std::sync::atomic::Ordering::Release);
}
