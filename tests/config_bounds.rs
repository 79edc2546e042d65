//! Every numeric config key has a range (issue 12, item 4): through `flagwire_init`, a number
//! outside it is INVALID_CONFIG naming the key and the range (never PANIC, never an abort), and
//! no bound is allocated up front. Clients built at the edges of the ranges deliver over HTTP.

mod common;

use common::*;
use flagwire::NUMERIC_KEYS;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, noting the largest single allocation made by a thread that asked for it.
struct LargestAllocation;

thread_local! {
    /// `None`: this thread is not being watched.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| {
        if let Some(max) = l.get() {
            l.set(Some(max.max(size)));
        }
    });
}

unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// The largest single allocation `f` makes on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(Some(0)));
    let out = f();
    let largest = LARGEST.with(|l| l.replace(None)).unwrap_or(0);
    (out, largest)
}

fn range_text(key: &str) -> String {
    let k = NUMERIC_KEYS.iter().find(|k| k.key == key).unwrap_or_else(|| panic!("{key} is not in NUMERIC_KEYS"));
    format!("{}..={}", k.min, k.max)
}

fn profile(col_url: &str, extra: Value) -> Value {
    let mut p = json!({"space_id": "spa_bounds", "access_token": "tok_bounds", "endpoint": col_url, "timeout_ms": 2000});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

/// A collector serving one profile, `user_id:u1`.
fn collector_with_profile() -> Collector {
    let col = collector();
    col.set_profiles(json!({"space_id": "spa_bounds", "access_token": "tok_bounds", "profiles": [
        {"external_ids": [{"type": "user_id", "id": "u1"}], "traits": {"plan": "pro"}}]}))
    .unwrap();
    col
}

#[test]
fn enormous_numbers_are_invalid_config_naming_key_and_range() {
    let col = collector();
    let huge = ["18446744073709551615", "1e300", "-1", "0.5", "\"100\"", "null"];
    for key in ["max_queue_events", "max_queue_bytes", "batch_size", "flush_interval_ms", "max_retries", "backoff_base_ms",
                "backoff_max_ms", "request_timeout_ms"] {
        for value in huge {
            let mut cfg = config(&col.url(), json!({}));
            cfg[key] = serde_json::from_str(value).unwrap();
            let (status, message) = TestClient::try_new(&cfg).err().unwrap_or_else(|| panic!("{key}={value} was accepted"));
            assert_eq!(status, Status::InvalidConfig, "{key}={value}: {message}");
            assert!(message.contains(&format!("`{key}`")) && message.contains(&range_text(key)), "{key}={value}: {message}");
        }
    }
    for key in ["cache_max_entries", "timeout_ms", "cache_ttl_ms"] {
        let cfg = config(&col.url(), json!({"profile": profile(&col.url(), json!({key: u64::MAX}))}));
        let (status, message) = TestClient::try_new(&cfg).err().unwrap();
        assert_eq!(status, Status::InvalidConfig);
        assert!(message.contains(&format!("`profile.{key}`")) && message.contains(&range_text(&format!("profile.{key}"))), "{message}");
    }
    // The client is still usable afterwards, from the same process.
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(wait_messages(&col, 1).len(), 1);
}

#[test]
fn the_profile_cache_is_not_allocated_up_front() {
    let col = collector_with_profile();
    for entries in [100_000u64, 1_000_000] {
        let cfg = config(&col.url(), json!({"profile": profile(&col.url(), json!({"cache_max_entries": entries}))}));
        let (client, largest) = largest_allocation(|| TestClient::new(&cfg));
        assert!(largest < 1 << 20, "flagwire_init made a {largest}-byte allocation with cache_max_entries {entries}");
        let ((status, attrs), largest) = largest_allocation(|| client.profile_attributes("user_id:u1"));
        assert_eq!((status, attrs.as_deref()), (Status::Ok, Some(r#"{"plan":"pro"}"#)));
        assert!(largest < 1 << 20, "a lookup made a {largest}-byte allocation");
    }
}

#[test]
fn clients_at_the_edges_of_every_range_deliver() {
    let col = collector_with_profile();
    // Largest everywhere (except the waits a test cannot sit through), then smallest.
    let largest = json!({"batch_size": 2500, "max_queue_events": 10_000_000, "max_queue_bytes": 1u64 << 32, "max_retries": 100,
                         "backoff_base_ms": 60_000, "backoff_max_ms": 3_600_000, "request_timeout_ms": 600_000,
                         "profile": profile(&col.url(), json!({"cache_max_entries": 1_000_000, "cache_ttl_ms": 86_400_000, "timeout_ms": 60_000}))});
    let smallest = json!({"batch_size": 1, "flush_interval_ms": 1, "max_queue_events": 1, "max_queue_bytes": 32_000, "max_retries": 0,
                          "backoff_base_ms": 1, "backoff_max_ms": 1,
                          "profile": profile(&col.url(), json!({"cache_max_entries": 1, "cache_ttl_ms": 0}))});
    for (n, extra) in [largest, smallest].into_iter().enumerate() {
        let client = TestClient::new(&config(&col.url(), extra));
        assert_eq!(client.flag(&format!("edge-{n}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
        assert_eq!(client.flush(10_000), Status::Ok);
        assert_eq!(client.profile_attributes("user_id:u1").0, Status::Ok);
        assert_eq!(client.shutdown(5000), Status::Ok);
    }
    assert_eq!(wait_messages(&col, 2).len(), 2);
}

/// The `spool` object needs its `dir` to be valid at all (a scratch directory per test run).
fn with_spool_dir(cfg: &mut Value) {
    if cfg.get("spool").is_some() {
        cfg["spool"]["dir"] = json!(concat!(env!("CARGO_TARGET_TMPDIR"), "/config-bounds-spool"));
    }
}

/// Whether this build has the key (the table lists the concurrent sender's keys before it lands).
fn known(key: &str) -> bool {
    static KNOWN: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        NUMERIC_KEYS
            .iter()
            .map(|k| {
                let mut cfg = json!({"write_key": "k", "endpoint": "http://127.0.0.1:9", "log_level": "off"});
                match k.key.split_once('.') {
                    Some(("profile", inner)) => cfg["profile"] = json!({"space_id": "s", "access_token": "t", "endpoint": "http://127.0.0.1:9", inner: k.default}),
                    Some((object, inner)) => cfg[object][inner] = json!(k.default),
                    None => cfg[k.key] = json!(k.default),
                }
                with_spool_dir(&mut cfg);
                match TestClient::try_new(&cfg) {
                    Ok(client) => client.shutdown(0) == Status::Ok,
                    Err((_, message)) => !message.contains("unknown field"),
                }
            })
            .collect()
    });
    known[NUMERIC_KEYS.iter().position(|k| k.key == key).unwrap()]
}

/// A value for a numeric key: in range, at or just past an edge, or not a small integer at all.
fn numeric_value(min: u64, max: u64) -> impl Strategy<Value = Value> {
    prop_oneof![
        (min..=max).prop_map(|v| json!(v)),
        Just(json!(min)),
        Just(json!(max)),
        Just(json!(max + 1)),
        Just(if min > 0 { json!(min - 1) } else { json!(-1) }),
        any::<u64>().prop_map(|v| json!(v)),
        any::<i64>().prop_map(|v| json!(v)),
        Just(json!(u64::MAX)),
        Just(json!(1e300)),
        Just(json!(2.5)),
        Just(json!("10")),
        Just(Value::Null),
    ]
}

fn numeric_config() -> impl Strategy<Value = Vec<(usize, Value)>> {
    let pair = (0..NUMERIC_KEYS.len()).prop_flat_map(|i| (Just(i), numeric_value(NUMERIC_KEYS[i].min, NUMERIC_KEYS[i].max)));
    prop::collection::vec(pair, 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// OK exactly when every value is an integer in its key's range (and the backoff pair is
    /// ordered, and the key exists in this build); otherwise INVALID_CONFIG naming a bad key.
    #[test]
    fn random_numeric_configs_are_ok_or_invalid_config(pairs in numeric_config()) {
        let mut cfg = json!({"write_key": "k", "endpoint": "http://127.0.0.1:9", "log_level": "off",
                             "profile": {"space_id": "s", "access_token": "t", "endpoint": "http://127.0.0.1:9"}});
        let mut chosen = std::collections::BTreeMap::new();
        for (i, value) in pairs {
            let key = NUMERIC_KEYS[i].key;
            match key.split_once('.') {
                Some((object, inner)) => cfg[object][inner] = value.clone(),
                None => cfg[key] = value.clone(),
            }
            chosen.insert(i, value);
        }
        with_spool_dir(&mut cfg);
        let out_of_range: Vec<&str> = chosen.iter()
            .filter(|(i, v)| !v.as_u64().is_some_and(|v| (NUMERIC_KEYS[**i].min..=NUMERIC_KEYS[**i].max).contains(&v)))
            .map(|(i, _)| NUMERIC_KEYS[*i].key)
            .collect();
        let value_of = |key: &str| {
            let i = NUMERIC_KEYS.iter().position(|k| k.key == key).unwrap();
            chosen.get(&i).and_then(Value::as_u64).unwrap_or(NUMERIC_KEYS[i].default)
        };
        let unknown_key = chosen.keys().any(|&i| !known(NUMERIC_KEYS[i].key));
        let valid = out_of_range.is_empty() && !unknown_key && value_of("backoff_max_ms") >= value_of("backoff_base_ms");
        match TestClient::try_new(&cfg) {
            Ok(client) => {
                prop_assert!(valid, "accepted {}", cfg);
                prop_assert_eq!(client.shutdown(0), Status::Ok);
            }
            Err((status, message)) => {
                prop_assert_eq!(status, Status::InvalidConfig, "{}", message);
                prop_assert!(!valid, "refused a valid config {}: {}", cfg, message);
                if !out_of_range.is_empty() {
                    prop_assert!(out_of_range.iter().any(|k| message.contains(&format!("`{k}`")) && message.contains(&range_text(k))),
                                 "{} does not name one of {:?} with its range", message, out_of_range);
                }
            }
        }
    }
}
