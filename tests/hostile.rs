//! Hostile input: random bytes, random JSON and random configs at every entry point. Only docs/design.md §2
//! statuses come back, nothing panics across the boundary, and the client keeps delivering.
#![allow(deprecated)] // the ABI 1 exports get the same abuse as the ABI 2 ones

mod common;

use common::*;
use flagwire::ffi::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::ffi::c_char;
use std::ptr;
use std::sync::OnceLock;

const ALL: [Status; 14] = [
    Status::Ok, Status::Skipped, Status::NullArgument, Status::InvalidUtf8, Status::InvalidJson, Status::InvalidConfig,
    Status::QueueFull, Status::TooLarge, Status::Closed, Status::Timeout, Status::Panic, Status::NotFound, Status::Unavailable,
    Status::InvalidArgument,
];

fn shared() -> &'static (Collector, TestClient) {
    static SHARED: OnceLock<(Collector, TestClient)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let col = collector();
        let client = TestClient::new(&config(&col.url(), json!({"max_queue_events": 100_000})));
        (col, client)
    })
}

/// NUL-terminated copy of arbitrary bytes (cut at the first NUL, as C would see them).
fn c_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = bytes.iter().copied().take_while(|&b| b != 0).collect();
    v.push(0);
    v
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("flag"), Just("feature"), Just("ab-test"), Just("track"), Just("identify"), Just("group"), Just("alias")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof![
                    Just("type".to_string()), Just("userId".to_string()), Just("user_id".to_string()),
                    Just("attributes".to_string()), Just("decisionInfo".to_string()), Just("decision_info".to_string()),
                    Just("flagKey".to_string()), Just("ruleKey".to_string()), Just("variationKey".to_string()),
                    Just("event".to_string()), Just("feature".to_string()), Just("sourceInfo".to_string()),
                    Just("experiments".to_string()), Just("featureFlags".to_string()), Just("version".to_string()),
                    "[a-z_]{1,8}"
                ], inner),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn config_value() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("batch_size"), Just("flush_interval_ms"), Just("max_queue_events"), Just("max_queue_bytes"),
        Just("max_retries"), Just("backoff_base_ms"), Just("backoff_max_ms"), Just("request_timeout_ms"), Just("gzip"),
        Just("event_name"), Just("property_style"), Just("include_attributes"), Just("include_rollouts"),
        Just("user_id_field"), Just("honor_disable_decision_event"), Just("allow_insecure_http"), Just("proxy"),
        Just("ca_certs_pem"), Just("log_level"), Just("profile"), Just("endpoint"), Just("write_key"), Just("bogus"),
    ];
    let values = prop_oneof![
        json_value(),
        (0u64..3000).prop_map(|n| json!(n)),
        prop_oneof![Just("both"), Just("segment"), Just("optimizely"), Just("userId"), Just("anonymousId"), Just("off"), Just("debug")]
            .prop_map(|s| json!(s)),
    ];
    prop::collection::vec((keys, values), 0..6).prop_map(|kv| {
        let mut m = serde_json::Map::new();
        m.insert("write_key".into(), json!("k"));
        m.insert("endpoint".into(), json!("http://127.0.0.1:9"));
        m.insert("log_level".into(), json!("off"));
        for (k, v) in kv {
            m.insert(k.to_string(), v);
        }
        Value::Object(m)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_at_every_string_entry_point(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let (_, client) = shared();
        let c = client.raw();
        let b = c_bytes(&bytes);
        let p = b.as_ptr() as *const c_char;
        unsafe {
            prop_assert!(ALL.contains(&flagwire_on_decision(c, p)));
            prop_assert!(ALL.contains(&flagwire_enqueue(c, p)));
            prop_assert!(ALL.contains(&flagwire_set_datafile(c, p)));
            prop_assert!(ALL.contains(&flagwire_on_flag_decision(c, p, p, p, p, 1, -1, p)));
            prop_assert!(ALL.contains(&flagwire_on_flag_decision(c, c"u".as_ptr(), c"f".as_ptr(), p, p, 0, 7, ptr::null())));
            // ABI 2: pointer + length, NUL bytes included, and the same bytes as decision records.
            let (raw, n) = (bytes.as_ptr(), bytes.len());
            prop_assert!(ALL.contains(&flagwire_on_notification_json(c, raw, n, ptr::null_mut())));
            prop_assert!(ALL.contains(&flagwire_enqueue_json(c, raw, n, ptr::null_mut())));
            prop_assert!(ALL.contains(&flagwire_set_datafile_json(c, raw, n, ptr::null_mut())));
            let mut e = ptr::null_mut();
            prop_assert!(ALL.contains(&flagwire_on_decision_record(c, raw, n, &mut e)));
            flagwire_string_free(e);
            prop_assert!(ALL.contains(&flagwire_on_decision_records(c, raw, n, ptr::null_mut())));
            // A valid header around random strings.
            let mut r = Record::new("u", "f", None, None);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            r.rule_key = Some(&text);
            r.attributes_json = Some(&text);
            r.enabled = bytes.first().copied().unwrap_or(0) as i8;
            r.dispatched = bytes.last().copied().unwrap_or(0) as i8;
            let rec = r.encode();
            prop_assert!(ALL.contains(&flagwire_on_decision_records(c, rec.as_ptr(), rec.len(), ptr::null_mut())));
            let mut out = ptr::null_mut();
            let mut err = ptr::null_mut();
            let st = flagwire_init(p, &mut out, &mut err);
            prop_assert!(ALL.contains(&st));
            if st == Status::Ok {
                prop_assert_eq!(flagwire_shutdown(out, 0), Status::Ok);
            }
            flagwire_string_free(err);
        }
    }

    #[test]
    fn random_json_at_every_json_entry_point(v in json_value()) {
        let (_, client) = shared();
        let text = v.to_string();
        for st in [client.decision(&text), client.enqueue(&text), client.set_datafile(&text)] {
            prop_assert!(ALL.contains(&st));
            prop_assert!(st != Status::Panic, "{}", text);
        }
        // Shapes that look like notifications.
        let n = json!({"type": "flag", "userId": v.clone(), "decisionInfo": v.clone()}).to_string();
        prop_assert!(ALL.contains(&client.decision(&n)));
        let n = json!({"type": "feature", "user_id": "u", "decision_info": {"feature": v.clone(), "source": v.clone()}}).to_string();
        prop_assert!(ALL.contains(&client.decision(&n)));
        let attrs = v.to_string();
        prop_assert!(ALL.contains(&client.flag("u", "f", Some("r"), Some("v"), true, 1, Some(&attrs))));
    }

    #[test]
    fn random_configs_are_accepted_or_refused_cleanly(cfg in config_value()) {
        match TestClient::try_new(&cfg) {
            Ok(client) => prop_assert_eq!(client.shutdown(0), Status::Ok),
            Err((status, message)) => {
                prop_assert_eq!(status, Status::InvalidConfig);
                prop_assert!(!message.is_empty());
            }
        }
    }
}

/// After all the abuse above (the tests share one client), valid events still arrive.
#[test]
fn client_still_delivers_after_hostile_input() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    for junk in ["", "{", "null", "[]", "{\"type\":\"flag\",\"userId\":{}}", "\u{feff}{}"] {
        assert!(ALL.contains(&client.decision(junk)));
        assert!(ALL.contains(&client.enqueue(junk)));
    }
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(col.messages().len(), 1);
}
