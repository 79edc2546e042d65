//! The C ABI contract (ABI 2): statuses, NULL / UTF-8 / JSON / config checks, per-call errors,
//! ownership, panics. The deprecated ABI 1 exports are covered in abi_v1.rs.

mod common;

use common::*;
use flagwire::ffi::*;
use serde_json::json;
use std::ffi::{c_char, CStr};
use std::ptr;

#[test]
fn version_and_abi() {
    let v = unsafe { CStr::from_ptr(flagwire_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    assert_eq!(flagwire_abi_version(), 2);
    assert_eq!(flagwire_abi_version(), FLAGWIRE_ABI_VERSION);
}

#[test]
fn init_errors_name_the_key_and_leave_out_params_alone() {
    let cases = [
        (json!({"write_key": "k", "batchsize": 3}), "batchsize"),
        (json!({"write_key": "k", "batch_size": 0}), "batch_size"),
        (json!({"write_key": "k", "batch_size": 2501}), "batch_size"),
        (json!({"endpoint": "http://127.0.0.1:1"}), "write_key"),
        (json!({"write_key": "k", "endpoint": "http://example.com"}), "allow_insecure_http"),
        (json!({"write_key": "k", "property_style": "kebab"}), "kebab"),
        (json!({"write_key": "k", "log_level": "loud"}), "loud"),
        (json!({"write_key": "k", "ca_certs_pem": "not a pem"}), "ca_certs_pem"),
        (json!({"write_key": "k", "max_queue_bytes": 100}), "max_queue_bytes"),
        (json!({"write_key": "k", "profile": {"space_id": "s"}}), "access_token"),
        (json!([1]), "object"),
    ];
    for (cfg, needle) in cases {
        match TestClient::try_new(&cfg) {
            Ok(_) => panic!("accepted {cfg}"),
            Err((status, message)) => {
                assert_eq!(status, Status::InvalidConfig, "{cfg}");
                assert!(message.contains(needle), "{cfg}: {message}");
            }
        }
    }
    // The write key never appears in an error.
    let err = TestClient::try_new(&json!({"write_key": "SECRET-KEY-123", "endpoint": "ftp://x"})).err().unwrap();
    assert!(!err.1.contains("SECRET-KEY-123"), "{}", err.1);

    // NULL / invalid UTF-8 / malformed JSON.
    let mut client = ptr::null_mut();
    let mut error: *mut c_char = ptr::null_mut();
    assert_eq!(unsafe { flagwire_init(ptr::null(), &mut client, &mut error) }, Status::NullArgument);
    assert!(take_string(error).unwrap().contains("config_json"));
    assert!(client.is_null());
    let cfg = c"{\"write_key\":\"k\"}";
    assert_eq!(unsafe { flagwire_init(cfg.as_ptr(), ptr::null_mut(), ptr::null_mut()) }, Status::NullArgument);
    let bad_utf8 = b"{\"write_key\":\"\xff\"}\0";
    assert_eq!(unsafe { flagwire_init(bad_utf8.as_ptr().cast(), &mut client, ptr::null_mut()) }, Status::InvalidUtf8);
    assert_eq!(unsafe { flagwire_init(c"{".as_ptr(), &mut client, ptr::null_mut()) }, Status::InvalidConfig);
    assert!(client.is_null());
}

#[test]
fn every_function_accepts_null_safely_and_says_why_in_out_error() {
    let mut err: *mut c_char = ptr::null_mut();
    unsafe {
        let j = b"{}";
        assert_eq!(flagwire_set_datafile_json(ptr::null_mut(), j.as_ptr(), 2, &mut err), Status::NullArgument);
        assert!(take_string(err).unwrap().contains("NULL"));
        assert_eq!(flagwire_on_notification_json(ptr::null_mut(), j.as_ptr(), 2, ptr::null_mut()), Status::NullArgument);
        assert_eq!(flagwire_on_decision_record(ptr::null_mut(), j.as_ptr(), 2, ptr::null_mut()), Status::NullArgument);
        assert_eq!(flagwire_on_decision_records(ptr::null_mut(), j.as_ptr(), 2, ptr::null_mut()), Status::NullArgument);
        assert_eq!(flagwire_enqueue_json(ptr::null_mut(), j.as_ptr(), 2, ptr::null_mut()), Status::NullArgument);
        assert_eq!(flagwire_set_log_callback(ptr::null_mut(), None, ptr::null_mut()), Status::NullArgument);
        assert_eq!(flagwire_flush(ptr::null_mut(), 10), Status::NullArgument);
        assert!(flagwire_stats(ptr::null()).is_null());
        flagwire_string_free(ptr::null_mut());
        assert_eq!(flagwire_shutdown(ptr::null_mut(), 10), Status::Ok);
    }
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    unsafe {
        for (i, f) in [flagwire_set_datafile_json, flagwire_on_notification_json, flagwire_on_decision_record, flagwire_on_decision_records, flagwire_enqueue_json]
            .into_iter()
            .enumerate()
        {
            assert_eq!(client.call(|c, e| f(c, ptr::null(), 0, e)), Status::NullArgument, "function {i}");
            assert!(client.last_error().unwrap().contains("NULL"), "function {i}");
        }
    }
    let bad = b"\"u\xc3\"";
    assert_eq!(client.call(|c, e| unsafe { flagwire_on_notification_json(c, bad.as_ptr(), bad.len(), e) }), Status::InvalidUtf8);
    assert_eq!(client.call(|c, e| unsafe { flagwire_enqueue_json(c, bad.as_ptr(), bad.len(), e) }), Status::InvalidUtf8);
    let mut rec = Record::new("u", "f", Some("r"), Some("v")).encode();
    rec[44] = 0xff;
    assert_eq!(client.call(|c, e| unsafe { flagwire_on_decision_record(c, rec.as_ptr(), rec.len(), e) }), Status::InvalidUtf8);
    assert!(client.last_error().unwrap().contains("user_id"));
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, Some("[1]")), Status::InvalidJson);
    assert!(client.last_error().unwrap().contains("attributes"));
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, Some("{")), Status::InvalidJson);
    assert_eq!(client.flag("", "f", Some("r"), Some("v"), true, 1, None), Status::InvalidJson);
    assert!(client.last_error().unwrap().contains("user_id"));
    assert_eq!(client.decision("{\"type\":\"flag\"}"), Status::InvalidJson);
    assert!(client.last_error().unwrap().contains("userId"));
    assert_eq!(client.decision("not json"), Status::InvalidJson);
    // A valid event still goes through after all that.
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(col.messages().len(), 1);
    let stats = client.stats();
    assert_eq!(stat(&stats, "delivered"), 1);
    assert!(stat(&stats, "dropped_invalid") >= 9, "{stats}");
}

#[test]
fn too_large_message_is_refused_at_the_call_and_counted() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let big = "x".repeat(33_000);
    let attrs = json!({ "blob": big }).to_string();
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, Some(&attrs)), Status::TooLarge);
    assert!(client.last_error().unwrap().contains("32,000"));
    let msg = json!({"type":"track","userId":"u","event":"E","properties":{"blob": big}}).to_string();
    assert_eq!(client.enqueue(&msg), Status::TooLarge);
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let stats = client.stats();
    assert_eq!(stat(&stats, "dropped_too_large"), 2);
    assert_eq!(stat(&stats, "delivered"), 1);
    assert_invariant(&stats);
}

#[test]
fn full_queue_drops_newest_without_blocking_and_keeps_the_rest() {
    let col = collector();
    // Every request hangs, so nothing drains while we fill the queue.
    col.script(vec![Step::Hang]);
    let client = TestClient::new(&config(
        &col.url(),
        json!({"max_queue_events": 5, "batch_size": 1, "max_in_flight": 1, "request_timeout_ms": 30000}),
    ));
    assert_eq!(client.flag("first", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert!(wait_until(|| col.requests().len() == 1), "first batch should be in flight");
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(client.flag(&format!("u{i}"), "f", Some("r"), Some("v"), true, 1, None));
    }
    // The bound counts everything held, the request in flight included: 1 + 4 more fit.
    assert_eq!(statuses.iter().filter(|s| **s == Status::Ok).count(), 4, "{statuses:?}");
    assert_eq!(&statuses[4..], &[Status::QueueFull; 4]);
    assert!(client.last_error().unwrap().contains("queue full"));
    let stats = client.stats();
    assert_eq!(stat(&stats, "dropped_queue_full"), 4);
    assert_eq!(stat(&stats, "enqueued"), 5);
    assert_eq!(stat(&stats, "in_flight"), 1);
    // A flush cannot finish while the request hangs: TIMEOUT, nothing lost.
    assert_eq!(client.flush(200), Status::Timeout);
    assert_eq!(stat(&client.stats(), "queue_depth"), 5);
}

fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..400 {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    false
}

#[test]
fn each_call_gets_its_own_error_message_under_concurrency() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    // Two threads fail differently at the same time; each reads only its own message.
    std::thread::scope(|s| {
        for (json, needle) in [("{\"type\":\"flag\"}", "userId"), ("[1,2]", "object")] {
            let client = &client;
            s.spawn(move || {
                for _ in 0..2000 {
                    let mut err = ptr::null_mut();
                    let st = unsafe { flagwire_on_notification_json(client.raw(), json.as_ptr(), json.len(), &mut err) };
                    assert_eq!(st, Status::InvalidJson);
                    let message = take_string(err).unwrap();
                    assert!(message.contains(needle), "{json}: got another call's message: {message}");
                }
            });
        }
    });
    // OK and SKIPPED never write out_error (TestClient::call asserts it).
    assert_eq!(client.flag("u", "f", None, None, true, 1, None), Status::Skipped);
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
}

#[cfg(feature = "testing")]
#[test]
fn a_panic_inside_an_export_becomes_a_status_and_the_client_keeps_working() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.flag("before", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.enqueue("__flagwire_test_panic__"), Status::Panic);
    assert!(client.last_error().unwrap().contains("panic"));
    assert_eq!(client.flag("after", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let users: Vec<_> = col.messages().iter().map(|m| m["userId"].as_str().unwrap().to_string()).collect();
    assert_eq!(users, ["before", "after"]);
}
