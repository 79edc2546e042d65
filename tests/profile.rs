//! Profile API (docs/design.md §7) against the collector's fixture profiles over real HTTP: attributes,
//! canonical user id, account bucketing, cache, single flight, timeouts, stale answers, 429 pause.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPACE: &str = "spa_test";
const TOKEN: &str = "tok_test";

fn fixture() -> Value {
    json!({"space_id": SPACE, "access_token": TOKEN, "profiles": [
        {"external_ids": [{"type": "user_id", "id": "u1", "created_at": "2024-01-01T00:00:00Z"}, {"type": "anonymous_id", "id": "a1"}],
         "traits": {"plan": "pro", "age": 42, "beta": true, "nested": {"x": 1}, "list": [1]},
         "links": [{"type": "group_id", "id": "acme-old", "created_at": "2023-01-01T00:00:00Z"},
                   {"type": "group_id", "id": "acme", "created_at": "2024-02-01T00:00:00Z"}]},
        {"external_ids": [{"type": "anonymous_id", "id": "anon-only"}], "traits": {}},
        {"external_ids": [{"type": "user_id", "id": "u2"}, {"type": "phone_number", "id": "+15555550123"}],
         "traits": {"plan": "free"}}
    ]})
}

fn setup(profile: Value) -> (Collector, TestClient) {
    let col = collector();
    col.set_profiles(fixture()).unwrap();
    let mut p = json!({"space_id": SPACE, "access_token": TOKEN, "endpoint": col.url(), "timeout_ms": 1000});
    for (k, v) in profile.as_object().unwrap() {
        p[k] = v.clone();
    }
    let client = TestClient::new(&config(&col.url(), json!({"profile": p})));
    (col, client)
}

fn parse(s: Option<String>) -> Value {
    serde_json::from_str(&s.expect("a value")).unwrap()
}

#[test]
fn attributes_are_scalar_traits_and_account_bucketing_adds_the_group() {
    let (col, client) = setup(json!({}));
    let (st, attrs) = client.profile_attributes("user_id:u1");
    assert_eq!(st, Status::Ok);
    assert_eq!(parse(attrs), json!({"plan": "pro", "age": 42, "beta": true}));
    // Found under a secondary id too; traits filtered by the include list.
    let (col2, client2) = setup(json!({"traits": ["plan"], "account_bucketing": true}));
    let (st, attrs) = client2.profile_attributes("anonymous_id:a1");
    assert_eq!(st, Status::Ok);
    assert_eq!(parse(attrs), json!({"plan": "pro", "$opt_bucketing_id": "acme"}));
    let reqs = col2.profile_requests();
    assert!(reqs.iter().any(|r| r.route == "traits" && r.path.contains("include=plan")), "{reqs:?}");
    assert!(reqs.iter().all(|r| r.authorization_ok));
    // Percent-encoding of the identifier's value.
    let (st, attrs) = client.profile_attributes("phone_number:+15555550123");
    assert_eq!(st, Status::Ok, "{:?}", client.last_error());
    assert_eq!(parse(attrs), json!({"plan": "free"}));
    drop(col);
}

#[test]
fn user_id_resolves_the_canonical_id() {
    let (_col, client) = setup(json!({}));
    assert_eq!(client.profile_user_id("anonymous_id:a1"), (Status::Ok, Some("u1".to_string())));
    assert_eq!(client.profile_user_id("anonymous_id:anon-only").0, Status::NotFound, "no user_id on the profile");
    assert_eq!(client.profile_user_id("anonymous_id:nobody").0, Status::NotFound);
}

#[test]
fn cache_serves_repeats_and_caches_not_found() {
    let (col, client) = setup(json!({"cache_ttl_ms": 60000}));
    for _ in 0..5 {
        assert_eq!(client.profile_attributes("user_id:u1").0, Status::Ok);
        assert_eq!(client.profile_attributes("user_id:ghost").0, Status::NotFound);
    }
    assert_eq!(col.profile_requests().len(), 2, "one request per identifier, then the cache");
    assert!(client.last_error().unwrap().contains("not found"));
}

#[test]
fn one_request_in_flight_per_identifier() {
    let (col, client) = setup(json!({"timeout_ms": 3000}));
    col.script_profiles(vec![Step::Status { code: 200, retry_after: None, delay_ms: 400 }]);
    let client = Arc::new(client);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let c = Arc::clone(&client);
            std::thread::spawn(move || c.profile_attributes("user_id:u1"))
        })
        .collect();
    for h in handles {
        let (st, attrs) = h.join().unwrap();
        assert_eq!(st, Status::Ok);
        assert_eq!(parse(attrs)["plan"], "pro");
    }
    assert_eq!(col.profile_requests().len(), 1);
}

#[test]
fn a_slow_api_never_blocks_past_the_timeout_and_stale_entries_are_served() {
    let (col, client) = setup(json!({"timeout_ms": 200, "cache_ttl_ms": 100}));
    col.script_profiles(vec![Step::Status { code: 200, retry_after: None, delay_ms: 2000 }]);
    let started = Instant::now();
    let (st, value) = client.profile_attributes("user_id:u1");
    let took = started.elapsed();
    assert_eq!((st, value), (Status::Unavailable, None));
    assert!(took < Duration::from_millis(200) + DEADLINE_SLACK, "lookup took {took:?}");
    // A good answer is cached; after the TTL a failing API gets the stale entry instead.
    assert_eq!(client.profile_attributes("user_id:u1").0, Status::Ok);
    std::thread::sleep(Duration::from_millis(150));
    col.script_profiles(vec![Step::status(503)]);
    let (st, attrs) = client.profile_attributes("user_id:u1");
    assert_eq!(st, Status::Ok, "stale on error");
    assert_eq!(parse(attrs)["plan"], "pro");
    // Without anything cached, an error is UNAVAILABLE.
    col.script_profiles(vec![Step::status(500)]);
    assert_eq!(client.profile_attributes("user_id:u2").0, Status::Unavailable);
}

#[test]
fn a_429_pauses_every_lookup_until_retry_after() {
    let (col, client) = setup(json!({}));
    col.script_profiles(vec![Step::Status { code: 429, retry_after: Some("1".into()), delay_ms: 0 }]);
    assert_eq!(client.profile_attributes("user_id:u1").0, Status::Unavailable);
    assert!(client.last_error().unwrap().contains("429"));
    let before = col.profile_requests().len();
    for id in ["user_id:u2", "anonymous_id:a1", "user_id:u1"] {
        assert_eq!(client.profile_attributes(id).0, Status::Unavailable);
    }
    assert_eq!(col.profile_requests().len(), before, "no request while paused");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(client.profile_attributes("user_id:u1").0, Status::Ok);
}

#[test]
fn bad_arguments_and_missing_config() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.profile_attributes("user_id:u1").0, Status::InvalidConfig);
    assert!(client.last_error().unwrap().contains("profile"));
    let (_col, client) = setup(json!({}));
    assert_eq!(client.profile_attributes("u1").0, Status::InvalidJson);
    assert_eq!(client.profile_user_id("user_id:").0, Status::InvalidJson);
    let mut out = std::ptr::null_mut();
    let st = client.call(|c, e| unsafe { flagwire::ffi::flagwire_profile_lookup(c, FlagwireProfileField::Attributes, std::ptr::null(), 0, &mut out, e) });
    assert_eq!(st, Status::NullArgument);
    assert!(out.is_null());
    let id = "user_id:u1";
    let st = client.call(|c, e| unsafe { flagwire::ffi::flagwire_profile_lookup(c, FlagwireProfileField::UserId, id.as_ptr(), id.len(), std::ptr::null_mut(), e) });
    assert_eq!(st, Status::NullArgument);
    assert!(client.last_error().unwrap().contains("out_value"));
    // The deprecated ABI 1 lookups still answer.
    #[allow(deprecated)]
    let st = unsafe { flagwire::ffi::flagwire_profile_user_id(client.raw(), c"user_id:u1".as_ptr(), std::ptr::null_mut()) };
    assert_eq!(st, Status::NullArgument);
    // The access token is never in errors.
    let err = TestClient::try_new(&json!({"write_key": "k", "profile": {"space_id": "s", "access_token": "tok-SECRET-9", "endpoint": "http://remote.example"}})).err().unwrap();
    assert!(!err.1.contains("tok-SECRET-9"), "{}", err.1);
}
