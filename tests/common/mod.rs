//! Shared helpers for the integration tests: a safe wrapper over the C ABI (so every test goes
//! through the real exports) and the in-process test collector.
#![allow(dead_code, unused_imports)]

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::time::Duration;

pub use flagwire::FlagwireStatus as Status;
use flagwire::ffi::*;
pub use flagwire_collector::{Collector, CollectorOptions, Step};
use serde_json::{json, Value};

pub const WRITE_KEY: &str = "test-write-key";

pub fn collector() -> Collector {
    Collector::start(CollectorOptions { write_keys: vec![WRITE_KEY.to_string()], ..Default::default() })
        .expect("start collector")
}

/// A config for the collector with fast timings; `extra` overrides keys.
pub fn config(endpoint: &str, extra: Value) -> Value {
    let mut c = json!({
        "write_key": WRITE_KEY,
        "endpoint": endpoint,
        "flush_interval_ms": 50,
        "backoff_base_ms": 10,
        "backoff_max_ms": 100,
        "request_timeout_ms": 2000,
        "log_level": "off",
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut c, extra) {
        for (k, v) in more {
            base.insert(k, v);
        }
    }
    c
}

pub fn take_string(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let s = unsafe { CStr::from_ptr(p) }.to_str().expect("utf-8 from flagwire").to_string();
    unsafe { flagwire_string_free(p) };
    Some(s)
}

pub struct TestClient(*mut FlagwireClient);
unsafe impl Send for TestClient {}
unsafe impl Sync for TestClient {}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in test strings")
}

impl TestClient {
    pub fn try_new(config: &Value) -> Result<TestClient, (Status, String)> {
        let text = c(&config.to_string());
        let mut client = ptr::null_mut();
        let mut err = ptr::null_mut();
        let status = unsafe { flagwire_init(text.as_ptr(), &mut client, &mut err) };
        if status == Status::Ok {
            assert!(err.is_null(), "out_error written on success");
            assert!(!client.is_null());
            Ok(TestClient(client))
        } else {
            assert!(client.is_null(), "out_client written on failure");
            Err((status, take_string(err).unwrap_or_default()))
        }
    }

    pub fn new(config: &Value) -> TestClient {
        Self::try_new(config).unwrap_or_else(|(s, e)| panic!("init failed: {s:?} {e}"))
    }

    pub fn raw(&self) -> *mut FlagwireClient {
        self.0
    }

    pub fn decision(&self, json: &str) -> Status {
        let j = c(json);
        unsafe { flagwire_on_decision(self.0, j.as_ptr()) }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn flag(&self, user: &str, flag: &str, rule: Option<&str>, variation: Option<&str>, enabled: bool, dispatched: i32, attrs: Option<&str>) -> Status {
        let (u, f) = (c(user), c(flag));
        let r = rule.map(c);
        let v = variation.map(c);
        let a = attrs.map(c);
        let p = |o: &Option<CString>| o.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        unsafe { flagwire_on_flag_decision(self.0, u.as_ptr(), f.as_ptr(), p(&r), p(&v), enabled as i32, dispatched, p(&a)) }
    }

    pub fn enqueue(&self, json: &str) -> Status {
        let j = c(json);
        unsafe { flagwire_enqueue(self.0, j.as_ptr()) }
    }

    pub fn set_datafile(&self, json: &str) -> Status {
        let j = c(json);
        unsafe { flagwire_set_datafile(self.0, j.as_ptr()) }
    }

    pub fn flush(&self, ms: u32) -> Status {
        unsafe { flagwire_flush(self.0, ms) }
    }

    pub fn stats(&self) -> Value {
        serde_json::from_str(&take_string(unsafe { flagwire_stats(self.0) }).expect("stats")).expect("stats JSON")
    }

    pub fn last_error(&self) -> Option<String> {
        take_string(unsafe { flagwire_last_error(self.0) })
    }

    pub fn profile_attributes(&self, identifier: &str) -> (Status, Option<String>) {
        let id = c(identifier);
        let mut out = ptr::null_mut();
        let st = unsafe { flagwire_profile_attributes(self.0, id.as_ptr(), &mut out) };
        (st, take_string(out))
    }

    pub fn profile_user_id(&self, identifier: &str) -> (Status, Option<String>) {
        let id = c(identifier);
        let mut out = ptr::null_mut();
        let st = unsafe { flagwire_profile_user_id(self.0, id.as_ptr(), &mut out) };
        (st, take_string(out))
    }

    pub fn shutdown(self, ms: u32) -> Status {
        let p = self.0;
        std::mem::forget(self);
        unsafe { flagwire_shutdown(p, ms) }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        let _ = unsafe { flagwire_shutdown(self.0, 2000) };
    }
}

pub fn stat(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or_else(|| panic!("stats has no {key}: {stats}"))
}

/// enqueued = delivered + failed, once flushed (DESIGN §6).
pub fn assert_invariant(stats: &Value) {
    assert_eq!(stat(stats, "enqueued"), stat(stats, "delivered") + stat(stats, "failed"), "{stats}");
    assert_eq!(stat(stats, "queue_depth"), 0, "{stats}");
}

pub fn flag_notification(user: &str, flag: &str, rule: &str, variation: &str, dispatched: Option<bool>) -> String {
    let mut info = json!({"flagKey": flag, "ruleKey": rule, "variationKey": variation, "enabled": true, "variables": {}, "reasons": []});
    if let Some(d) = dispatched {
        info["decisionEventDispatched"] = json!(d);
    }
    json!({"type": "flag", "userId": user, "attributes": {"plan": "pro"}, "decisionInfo": info}).to_string()
}

pub const MINIMAL_DATAFILE: &str = include_str!("../data/minimal-datafile.json");
pub const REPEATED_KEYS_DATAFILE: &str = include_str!("../data/datafile-repeated-rule-keys.json");

pub fn message_ids(messages: &[Value]) -> Vec<String> {
    messages.iter().map(|m| m["messageId"].as_str().unwrap_or_default().to_string()).collect()
}

pub fn wait_messages(col: &Collector, n: usize) -> Vec<Value> {
    assert!(col.wait_for_messages(n, Duration::from_secs(20)), "collector got {} of {n} messages", col.messages().len());
    col.messages()
}
