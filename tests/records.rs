//! ABI 2's decision path: records carry every field a notification can (ids included), NUL
//! bytes are data, many records cross in one call, and log lines reach the host's callback.

mod common;

use common::*;
use flagwire::ffi::*;
use flagwire::FlagwireLogLevel;
use serde_json::json;
use std::ffi::{c_char, c_void};
use std::sync::Mutex;

#[test]
fn a_record_carries_ids_timestamp_and_nul_bytes_without_a_datafile() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let mut r = Record::new("user\0with-nul", "checkout_flow", Some("checkout_ab"), Some("treatment"));
    r.experiment_id = Some("2001");
    r.variation_id = Some("5002");
    r.dispatched = 1;
    r.attributes_json = Some(r#"{"plan":"pro"}"#);
    r.at_ms = 1_795_255_200_123;
    assert_eq!(client.record(&r), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let m = &wait_messages(&col, 1)[0];
    assert_eq!(m["userId"], "user\0with-nul");
    assert_eq!(m["timestamp"], "2026-11-21T10:00:00.123Z");
    let p = &m["properties"];
    assert_eq!((p["experiment_id"].as_str(), p["variation_id"].as_str()), (Some("2001"), Some("5002")), "{m}");
    assert_eq!(p["userAttributes"], json!({"plan": "pro"}));
}

#[test]
fn many_records_in_one_call_each_handled_and_a_malformed_one_stops_the_rest() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.set_datafile(MINIMAL_DATAFILE), Status::Ok);
    let mut buf = Vec::new();
    for i in 0..50 {
        let user = format!("u{i}");
        // Even users: the experiment; odd users: the delivery rule (not an exposure).
        let rule = if i % 2 == 0 { ("checkout_ab", "control") } else { ("checkout_delivery", "on") };
        Record::new(&user, "checkout_flow", Some(rule.0), Some(rule.1)).encode_into(&mut buf);
    }
    assert_eq!(client.records(&buf), Status::Ok);
    let good = buf.len();
    Record::new("late", "checkout_flow", Some("checkout_ab"), Some("control")).encode_into(&mut buf);
    let truncated_at = buf.len() - good;
    buf.extend_from_slice(&[7, 0, 0]); // a truncated record
    assert_eq!(client.records(&buf[good..]), Status::InvalidArgument);
    let message = client.last_error().unwrap();
    assert!(message.contains(&format!("byte {truncated_at}")), "{message}");
    assert_eq!(client.flush(5000), Status::Ok);
    let users: std::collections::BTreeSet<String> =
        col.messages().iter().map(|m| m["userId"].as_str().unwrap().to_string()).collect();
    assert_eq!(users.len(), 26, "25 exposures + the record before the malformed one: {users:?}");
    assert!(users.contains("late"));
    let stats = client.stats();
    assert_eq!((stat(&stats, "decisions"), stat(&stats, "skipped")), (51, 25));
    assert_eq!(stat(&stats, "dropped_invalid"), 1);
    // One record per call on the single-record export.
    assert_eq!(client.call(|c, e| unsafe { flagwire_on_decision_record(c, buf.as_ptr(), good, e) }), Status::InvalidArgument);
    assert!(client.last_error().unwrap().contains("more than one"));
}

#[derive(Default)]
struct Captured(Mutex<Vec<(FlagwireLogLevel, String)>>);

unsafe extern "C" fn capture(user_data: *mut c_void, level: FlagwireLogLevel, message: *const c_char, len: usize) {
    let captured = unsafe { &*(user_data as *const Captured) };
    let bytes = unsafe { std::slice::from_raw_parts(message.cast::<u8>(), len) };
    assert_eq!(unsafe { *message.add(len) }, 0, "NUL-terminated too");
    captured.0.lock().unwrap().push((level, String::from_utf8(bytes.to_vec()).unwrap()));
}

#[test]
fn log_lines_reach_the_callback_and_the_debug_log_shows_the_message_id_that_is_sent() {
    let col = collector();
    let captured = Box::new(Captured::default());
    let client = TestClient::new(&config(&col.url(), json!({"log_level": "debug"})));
    let user_data = &*captured as *const Captured as *mut c_void;
    assert_eq!(unsafe { flagwire_set_log_callback(client.raw(), Some(capture), user_data) }, Status::Ok);
    assert_eq!(client.flag("traced-user", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let sent = &wait_messages(&col, 1)[0];
    let id = sent["messageId"].as_str().unwrap().to_string();
    assert_eq!(client.shutdown(2000), Status::Ok);
    let lines = captured.0.lock().unwrap().clone();
    let debug: Vec<_> = lines.iter().filter(|(l, _)| *l == FlagwireLogLevel::Debug).map(|(_, m)| m.clone()).collect();
    assert!(debug.iter().any(|m| m.contains("traced-user") && m.contains(&id)), "debug log lacks messageId {id}: {debug:#?}");
    assert!(
        !debug.iter().any(|m| m.contains("traced-user") && !m.contains(&id)),
        "a debug line shows another messageId for the event: {debug:#?}"
    );
    // After shutdown the callback is never called again: nothing appended since.
    let n = lines.len();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(captured.0.lock().unwrap().len(), n);
}
