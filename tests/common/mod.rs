//! Shared helpers for the integration tests: a safe wrapper over the C ABI (so every test goes
//! through the real exports) and the in-process test collector.
#![allow(dead_code, unused_imports)]

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::time::Duration;

pub use flagwire::FlagwireStatus as Status;
pub use flagwire::ffi::FlagwireProfileField;
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
        // Generous: a request the collector accepted but that timed out here is retried, and a
        // duplicate then shows up in tests (Segment would collapse it by messageId). Debug builds
        // of the collector on a loaded 2-core machine can take seconds for a 500 KB batch.
        "request_timeout_ms": 30000,
        "log_level": std::env::var("FLAGWIRE_TEST_LOG").unwrap_or_else(|_| "off".into()),
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

/// A client driven through the ABI 2 exports. `last_error` is the message of the most recent
/// failed call made through this wrapper (each call gets its own `out_error`).
pub struct TestClient(*mut FlagwireClient, std::sync::Mutex<Option<String>>);
unsafe impl Send for TestClient {}
unsafe impl Sync for TestClient {}

mod record;
pub use record::Record;

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
            Ok(TestClient(client, std::sync::Mutex::new(None)))
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

    /// Runs an ABI 2 call with its own `out_error`; remembers the message when there is one.
    pub fn call(&self, f: impl FnOnce(*mut FlagwireClient, *mut *mut c_char) -> Status) -> Status {
        let mut err = ptr::null_mut();
        let status = f(self.0, &mut err);
        let message = take_string(err);
        if matches!(status, Status::Ok | Status::Skipped) {
            assert!(message.is_none(), "out_error written on {status:?}: {message:?}");
        } else {
            assert!(message.is_some(), "no out_error message for {status:?}");
            *self.1.lock().unwrap() = message;
        }
        status
    }

    pub fn decision(&self, json: &str) -> Status {
        self.call(|c, e| unsafe { flagwire_on_notification_json(c, json.as_ptr(), json.len(), e) })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn flag(&self, user: &str, flag: &str, rule: Option<&str>, variation: Option<&str>, enabled: bool, dispatched: i32, attrs: Option<&str>) -> Status {
        let mut r = Record::new(user, flag, rule, variation);
        r.enabled = enabled as i8;
        r.dispatched = dispatched.clamp(-1, 1) as i8;
        r.attributes_json = attrs;
        self.record(&r)
    }

    pub fn record(&self, r: &Record<'_>) -> Status {
        let bytes = r.encode();
        self.call(|c, e| unsafe { flagwire_on_decision_record(c, bytes.as_ptr(), bytes.len(), e) })
    }

    pub fn records(&self, bytes: &[u8]) -> Status {
        self.call(|c, e| unsafe { flagwire_on_decision_records(c, bytes.as_ptr(), bytes.len(), e) })
    }

    pub fn enqueue(&self, json: &str) -> Status {
        self.call(|c, e| unsafe { flagwire_enqueue_json(c, json.as_ptr(), json.len(), e) })
    }

    pub fn set_datafile(&self, json: &str) -> Status {
        self.call(|c, e| unsafe { flagwire_set_datafile_json(c, json.as_ptr(), json.len(), e) })
    }

    pub fn flush(&self, ms: u32) -> Status {
        unsafe { flagwire_flush(self.0, ms) }
    }

    pub fn stats(&self) -> Value {
        serde_json::from_str(&take_string(unsafe { flagwire_stats(self.0) }).expect("stats")).expect("stats JSON")
    }

    /// The message of the most recent failed ABI 2 call made through this wrapper.
    pub fn last_error(&self) -> Option<String> {
        self.1.lock().unwrap().clone()
    }

    pub fn profile(&self, field: FlagwireProfileField, identifier: &str) -> (Status, Option<String>) {
        let mut out = ptr::null_mut();
        let st = self.call(|c, e| unsafe { flagwire_profile_lookup(c, field, identifier.as_ptr(), identifier.len(), &mut out, e) });
        (st, take_string(out))
    }

    pub fn profile_attributes(&self, identifier: &str) -> (Status, Option<String>) {
        self.profile(FlagwireProfileField::Attributes, identifier)
    }

    pub fn profile_user_id(&self, identifier: &str) -> (Status, Option<String>) {
        self.profile(FlagwireProfileField::UserId, identifier)
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

/// How late a call may return after its deadline on a loaded 2-core CI machine (scheduling, not
/// waiting: a call that waited for a hung request would be seconds late). The precise figure is
/// measured by the benchmarks, not asserted here.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(250);

pub fn stat(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or_else(|| panic!("stats has no {key}: {stats}"))
}

/// enqueued = delivered + failed, once flushed (docs/design.md §6).
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

/// Forks; the child runs `child` (exit code 0 = pass) under a 20 s alarm, which turns a deadlock
/// in the child into a failure instead of a hang. Returns the child's pid.
pub fn fork_child(child: impl FnOnce() -> bool) -> libc::pid_t {
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => {
            unsafe { libc::alarm(20) };
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(false);
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => pid,
    }
}

/// Waits for a forked child and returns its raw wait status (0 = it passed).
pub fn wait_child(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

/// Runs `child` in a forked child process and returns its wait status (0 = it passed). Tests
/// that fork keep to one #[test] per file, so no other test thread runs during fork().
pub fn in_child(child: impl FnOnce() -> bool) -> i32 {
    wait_child(fork_child(child))
}
