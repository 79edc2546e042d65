//! The deprecated ABI 1 exports keep working (existing users must not break): each one once,
//! NULL and UTF-8 checks, and `flagwire_last_error`.
#![allow(deprecated)]

mod common;

use common::*;
use flagwire::ffi::*;
use serde_json::json;
use std::ffi::CString;
use std::ptr;

fn last_error(c: *mut FlagwireClient) -> Option<String> {
    take_string(unsafe { flagwire_last_error(c) })
}

#[test]
fn version_one_exports_still_deliver() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let c = client.raw();
    assert_eq!(last_error(c), None);
    let datafile = CString::new(MINIMAL_DATAFILE).unwrap();
    let notification = CString::new(flag_notification("json-user", "checkout_flow", "checkout_ab", "treatment", Some(true))).unwrap();
    let message = CString::new(json!({"type":"track","userId":"u","event":"Order Completed"}).to_string()).unwrap();
    unsafe {
        assert_eq!(flagwire_set_datafile(c, datafile.as_ptr()), Status::Ok);
        assert_eq!(flagwire_on_decision(c, notification.as_ptr()), Status::Ok);
        assert_eq!(
            flagwire_on_flag_decision(c, c"fast-user".as_ptr(), c"checkout_flow".as_ptr(), c"checkout_ab".as_ptr(), c"control".as_ptr(), 1, 1, c"{\"plan\":\"pro\"}".as_ptr()),
            Status::Ok
        );
        assert_eq!(
            flagwire_on_flag_decision(c, c"u".as_ptr(), c"checkout_flow".as_ptr(), ptr::null(), ptr::null(), 0, -1, ptr::null()),
            Status::Skipped
        );
        assert_eq!(flagwire_enqueue(c, message.as_ptr()), Status::Ok);
    }
    assert_eq!(client.flush(5000), Status::Ok);
    let msgs = col.messages();
    assert_eq!(msgs.len(), 3);
    let fast = msgs.iter().find(|m| m["userId"] == "fast-user").expect("fast path event");
    assert_eq!(fast["properties"]["variation_id"], "5001", "ids come from the datafile: {fast}");
    assert_invariant(&client.stats());
}

#[test]
fn version_one_null_utf8_and_last_error() {
    unsafe {
        assert_eq!(flagwire_set_datafile(ptr::null_mut(), c"{}".as_ptr()), Status::NullArgument);
        assert_eq!(flagwire_on_decision(ptr::null_mut(), c"{}".as_ptr()), Status::NullArgument);
        assert_eq!(
            flagwire_on_flag_decision(ptr::null_mut(), c"u".as_ptr(), c"f".as_ptr(), ptr::null(), ptr::null(), 1, -1, ptr::null()),
            Status::NullArgument
        );
        assert_eq!(flagwire_enqueue(ptr::null_mut(), c"{}".as_ptr()), Status::NullArgument);
        assert!(flagwire_last_error(ptr::null()).is_null());
    }
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let c = client.raw();
    unsafe {
        assert_eq!(flagwire_set_datafile(c, ptr::null()), Status::NullArgument);
        assert!(last_error(c).unwrap().contains("datafile_json"));
        assert_eq!(flagwire_on_decision(c, ptr::null()), Status::NullArgument);
        assert_eq!(flagwire_enqueue(c, ptr::null()), Status::NullArgument);
        assert_eq!(
            flagwire_on_flag_decision(c, ptr::null(), c"f".as_ptr(), ptr::null(), ptr::null(), 1, -1, ptr::null()),
            Status::NullArgument
        );
        assert!(last_error(c).unwrap().contains("user_id"));
        let bad = b"u\xc3\0";
        assert_eq!(
            flagwire_on_flag_decision(c, c"u".as_ptr(), c"f".as_ptr(), bad.as_ptr().cast(), c"v".as_ptr(), 1, -1, ptr::null()),
            Status::InvalidUtf8
        );
        assert!(last_error(c).unwrap().contains("rule_key"));
        assert_eq!(flagwire_on_decision(c, bad.as_ptr().cast()), Status::InvalidUtf8);
        assert_eq!(flagwire_enqueue(c, bad.as_ptr().cast()), Status::InvalidUtf8);
        assert_eq!(flagwire_on_decision(c, c"{".as_ptr()), Status::InvalidJson);
        assert!(last_error(c).unwrap().contains("notification"));
    }
}
