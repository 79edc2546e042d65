//! Decisions in, Experiment Viewed events out, over real HTTP to the test collector.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;

#[test]
fn flag_decisions_in_both_casings_arrive_with_design_shape() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let java = r#"{"type":"flag","userId":"user0","attributes":{"plan":"pro"},"decisionInfo":{"variables":{"button_color":"gray"},"reasons":[],"variationId":"5001","decisionEventDispatched":true,"experimentId":"2001","variationKey":"control","ruleKey":"checkout_ab","flagKey":"checkout_flow","enabled":false}}"#;
    let ruby = r#"{"type":"flag","user_id":"user1","attributes":{},"decision_info":{"flag_key":"checkout_flow","enabled":true,"variables":{"button_color":"green"},"variation_key":"treatment","rule_key":"checkout_ab","reasons":[],"decision_event_dispatched":true,"experiment_id":"2001","variation_id":"5002"}}"#;
    assert_eq!(client.decision(java), Status::Ok);
    assert_eq!(client.decision(ruby), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let msgs = wait_messages(&col, 2);
    let m0 = &msgs[0];
    assert_eq!(m0["type"], "track");
    assert_eq!(m0["event"], "Experiment Viewed");
    assert_eq!(m0["userId"], "user0");
    assert_eq!(
        m0["properties"],
        json!({"flagKey":"checkout_flow","ruleKey":"checkout_ab","variationKey":"control","enabled":false,
               "optimizelyUserId":"user0","userAttributes":{"plan":"pro"},
               "experiment_id":"2001","experiment_name":"checkout_ab","variation_id":"5001","variation_name":"control"})
    );
    assert_eq!(m0["context"]["library"], json!({"name":"flagwire","version": env!("CARGO_PKG_VERSION")}));
    // Empty attributes are left out.
    assert!(msgs[1]["properties"].get("userAttributes").is_none());
    assert_eq!(msgs[1]["properties"]["variation_id"], "5002");
    for m in &msgs {
        let id = m["messageId"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
        let ts = m["timestamp"].as_str().unwrap();
        assert!(ts.len() == 24 && ts.ends_with('Z'), "{ts}");
    }
    let reqs = col.requests();
    assert!(reqs.iter().all(|r| r.authorization_ok && r.content_encoding.as_deref() == Some("gzip") && r.status == 200));
    assert!(reqs.iter().all(|r| r.sent_at.is_some()));
    let stats = client.stats();
    assert_eq!((stat(&stats, "decisions"), stat(&stats, "exposures"), stat(&stats, "delivered")), (2, 2, 2));
    assert_invariant(&stats);
}

#[test]
fn timestamp_is_taken_at_the_call_not_at_send() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"flush_interval_ms": 1500})));
    let before = std::time::SystemTime::now();
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(client.flush(5000), Status::Ok);
    let msgs = wait_messages(&col, 1);
    let ts = time::OffsetDateTime::parse(msgs[0]["timestamp"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let sent = time::OffsetDateTime::parse(col.requests()[0].sent_at.as_deref().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let before = time::OffsetDateTime::from(before);
    assert!(ts >= before.replace_nanosecond(0).unwrap() - time::Duration::milliseconds(1) && ts < before + time::Duration::milliseconds(300), "ts {ts} before {before}");
    assert!(sent - ts >= time::Duration::milliseconds(350), "sentAt {sent} should be at send time, ts {ts}");
}

#[test]
fn property_styles_user_id_field_and_attributes() {
    let col = collector();
    let cases = [
        (json!({"property_style":"optimizely"}), json!({"flagKey":"flag_a","ruleKey":"shared_rule","ruleType":"experiment","variationKey":"a_treatment","enabled":true,"optimizelyUserId":"u1","userAttributes":{"tier":"gold"},"experimentId":"2101","variationId":"5102"})),
        (json!({"property_style":"segment"}), json!({"userAttributes":{"tier":"gold"},"experiment_id":"2101","experiment_name":"shared_rule","variation_id":"5102","variation_name":"a_treatment"})),
        (json!({"property_style":"segment","include_attributes":false}), json!({"experiment_id":"2101","experiment_name":"shared_rule","variation_id":"5102","variation_name":"a_treatment"})),
    ];
    for (extra, expected) in cases {
        col.reset();
        let client = TestClient::new(&config(&col.url(), extra.clone()));
        assert_eq!(client.set_datafile(REPEATED_KEYS_DATAFILE), Status::Ok);
        // ids come from the datafile: the fast path carries none.
        assert_eq!(client.flag("u1", "flag_a", Some("shared_rule"), Some("a_treatment"), true, 1, Some(r#"{"tier":"gold"}"#)), Status::Ok);
        assert_eq!(client.shutdown(5000), Status::Ok);
        let msgs = wait_messages(&col, 1);
        assert_eq!(msgs[0]["properties"], expected, "{extra}");
        assert_eq!(msgs[0]["userId"], "u1");
    }
    col.reset();
    let client = TestClient::new(&config(&col.url(), json!({"user_id_field":"anonymousId","event_name":"Exposure"})));
    assert_eq!(client.flag("anon-9", "f", Some("r"), Some("v"), false, -1, None), Status::Ok);
    assert_eq!(client.shutdown(5000), Status::Ok);
    let msgs = wait_messages(&col, 1);
    assert_eq!(msgs[0]["anonymousId"], "anon-9");
    assert!(msgs[0].get("userId").is_none());
    assert_eq!(msgs[0]["event"], "Exposure");
    assert_eq!(msgs[0]["properties"]["enabled"], false);
}

/// `shared_rule` is an experiment in flag_a and a delivery rule in flag_b; flag_c/flag_d are a
/// mutex group. Classification must be per flag and ignore decisionEventDispatched as a marker
/// (this datafile has sendFlagDecisions: rollouts dispatch too).
#[test]
fn repeated_rule_keys_and_mutex_group_are_classified_per_flag() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.set_datafile(REPEATED_KEYS_DATAFILE), Status::Ok);
    let cases: &[(&str, &str, &str, Status, Option<(&str, &str)>)] = &[
        ("flag_a", "shared_rule", "a_control", Status::Ok, Some(("2101", "5101"))),
        ("flag_b", "shared_rule", "on", Status::Skipped, None),
        ("flag_a", "default-rollout-3101", "off", Status::Skipped, None),
        ("flag_c", "mutex_c", "c_treatment", Status::Ok, Some(("2301", "5302"))),
        ("flag_d", "mutex_d", "d_control", Status::Ok, Some(("2302", "5401"))),
    ];
    // A rule the datafile does not list is held, not skipped: tests/classify.rs.
    for (i, (flag, rule, variation, status, _)) in cases.iter().enumerate() {
        let n = flag_notification(&format!("user-{i}"), flag, rule, variation, Some(true));
        assert_eq!(client.decision(&n), *status, "{flag}/{rule}");
    }
    assert_eq!(client.flush(5000), Status::Ok);
    let expected: Vec<_> = cases.iter().enumerate().filter(|(_, c)| c.3 == Status::Ok).collect();
    let msgs = wait_messages(&col, expected.len());
    assert_eq!(msgs.len(), expected.len());
    for (m, (i, (flag, rule, _, _, ids))) in msgs.iter().zip(&expected) {
        assert_eq!(m["userId"], format!("user-{i}"));
        assert_eq!(m["properties"]["flagKey"], *flag);
        assert_eq!(m["properties"]["ruleKey"], *rule);
        let (exp, var) = ids.unwrap();
        assert_eq!((m["properties"]["experiment_id"].as_str(), m["properties"]["variation_id"].as_str()), (Some(exp), Some(var)));
    }
    let stats = client.stats();
    assert_eq!((stat(&stats, "decisions"), stat(&stats, "exposures"), stat(&stats, "skipped")), (5, 3, 2));
}

#[test]
fn without_datafile_keys_decide_and_disabled_decision_events_are_not_exposures() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.flag("u1", "f", Some("r"), Some("v"), true, -1, None), Status::Ok);
    assert_eq!(client.flag("u2", "f", None, None, false, 1, None), Status::Skipped);
    assert_eq!(client.flag("u3", "f", Some(""), Some("v"), true, 1, None), Status::Skipped);
    assert_eq!(client.flag("u4", "f", Some("r"), Some("v"), true, 0, None), Status::Skipped);
    assert_eq!(client.decision(&flag_notification("u5", "f", "r", "v", Some(false))), Status::Skipped);
    assert_eq!(client.shutdown(5000), Status::Ok);
    let msgs = wait_messages(&col, 1);
    assert_eq!(msgs.iter().map(|m| m["userId"].as_str().unwrap()).collect::<Vec<_>>(), ["u1"]);

    col.reset();
    let client = TestClient::new(&config(&col.url(), json!({"honor_disable_decision_event": false})));
    assert_eq!(client.flag("u4", "f", Some("r"), Some("v"), true, 0, None), Status::Ok);
    assert_eq!(client.shutdown(5000), Status::Ok);
    assert_eq!(wait_messages(&col, 1)[0]["userId"], "u4");
}

#[test]
fn include_rollouts_emits_delivery_rules_too() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"include_rollouts": true})));
    assert_eq!(client.set_datafile(MINIMAL_DATAFILE), Status::Ok);
    // A rollout decision with dispatched=false (sendFlagDecisions off) is still emitted here:
    // the DISABLE_DECISION_EVENT rule applies to experiments only.
    assert_eq!(client.decision(&flag_notification("u1", "checkout_flow", "checkout_delivery", "on", Some(false))), Status::Ok);
    assert_eq!(client.decision(&flag_notification("u2", "checkout_flow", "checkout_ab", "treatment", Some(true))), Status::Ok);
    assert_eq!(client.shutdown(5000), Status::Ok);
    let msgs = wait_messages(&col, 2);
    assert_eq!(msgs[0]["properties"]["experiment_id"], "6001");
    assert_eq!(msgs[0]["properties"]["variation_id"], "7001");
}

#[test]
fn legacy_notification_shapes() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let go_feature = r#"{"type":"feature","userId":"go-1","attributes":{},"decisionInfo":{"feature":{"featureKey":"checkout_flow","featureEnabled":true,"source":"feature-test","sourceInfo":{"experimentKey":"checkout_ab","variationKey":"treatment"}}}}"#;
    let java_feature = r#"{"type":"feature","userId":"java-1","attributes":{},"decisionInfo":{"featureKey":"checkout_flow","featureEnabled":false,"source":"feature-test","sourceInfo":{"experimentKey":"checkout_ab","variationKey":"control"}}}"#;
    let ruby_rollout = r#"{"type":"feature","user_id":"ruby-1","attributes":{},"decision_info":{"feature_key":"checkout_flow","feature_enabled":true,"source":"rollout","source_info":{}}}"#;
    let ruby_ab = r#"{"type":"ab-test","user_id":"ruby-2","attributes":{"a":1},"decision_info":{"experiment_key":"checkout_ab","variation_key":"treatment"}}"#;
    let feature_test_unbucketed = r#"{"type":"feature-test","userId":"js-1","decisionInfo":{"experimentKey":"checkout_ab","variationKey":null}}"#;
    let variable = r#"{"type":"feature-variable","userId":"v-1","decisionInfo":{"featureKey":"checkout_flow","featureEnabled":true,"source":"feature-test","sourceInfo":{"experimentKey":"checkout_ab","variationKey":"treatment"},"variableKey":"button_color","variableType":"string","variableValue":"green"}}"#;
    let unknown = r#"{"type":"track-something","userId":"x","decisionInfo":{}}"#;
    assert_eq!(client.decision(go_feature), Status::Ok);
    assert_eq!(client.decision(java_feature), Status::Ok);
    assert_eq!(client.decision(ruby_rollout), Status::Skipped);
    assert_eq!(client.decision(ruby_ab), Status::Ok);
    assert_eq!(client.decision(feature_test_unbucketed), Status::Skipped);
    assert_eq!(client.decision(variable), Status::Skipped, "Optimizely sends no impression for variable getters");
    assert_eq!(client.decision(unknown), Status::Skipped);
    assert_eq!(client.set_datafile(MINIMAL_DATAFILE), Status::Ok);
    assert_eq!(client.decision(ruby_ab), Status::Ok);
    assert_eq!(client.shutdown(5000), Status::Ok);
    let msgs = wait_messages(&col, 4);
    let users: Vec<_> = msgs.iter().map(|m| m["userId"].as_str().unwrap()).collect();
    assert_eq!(users, ["go-1", "java-1", "ruby-2", "ruby-2"]);
    assert_eq!(msgs[0]["properties"]["flagKey"], "checkout_flow");
    assert_eq!(msgs[0]["properties"]["ruleKey"], "checkout_ab");
    assert_eq!(msgs[0]["properties"]["variationKey"], "treatment");
    assert_eq!(msgs[0]["properties"]["enabled"], true);
    assert!(msgs[2]["properties"].get("flagKey").is_none(), "no datafile: ab-test has no flag");
    assert_eq!(msgs[3]["properties"]["flagKey"], "checkout_flow", "datafile maps the experiment to its flag");
    assert_eq!(msgs[3]["properties"]["experiment_id"], "2001");
    assert_eq!(msgs[3]["properties"]["variation_id"], "5002");
}

#[test]
fn enqueue_sends_any_segment_message_and_validates() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let ok = [
        r#"{"type":"track","userId":"u","event":"Order Completed","properties":{"revenue":9.5}}"#,
        r#"{"type":"identify","userId":"u","traits":{"plan":"pro"}}"#,
        r#"{"type":"page","anonymousId":"a","name":"Home"}"#,
        r#"{"type":"screen","userId":"u","name":"Cart"}"#,
        r#"{"type":"group","userId":"u","groupId":"acme"}"#,
        r#"{"type":"alias","userId":"u","previousId":"a"}"#,
        r#"{"type":"track","userId":"u","event":"E","messageId":"fixed-id-1","timestamp":"2026-01-01T00:00:00.000Z","context":{"ip":"1.2.3.4"}}"#,
    ];
    for m in ok {
        assert_eq!(client.enqueue(m), Status::Ok, "{m}");
    }
    let bad = [
        (r#"{"type":"track","userId":"u"}"#, "event"),
        (r#"{"type":"track","event":"E"}"#, "userId"),
        (r#"{"type":"group","userId":"u"}"#, "groupId"),
        (r#"{"type":"alias","userId":"u"}"#, "previousId"),
        (r#"{"type":"launch","userId":"u"}"#, "type"),
        (r#"{"userId":"u"}"#, "type"),
        (r#"[1,2]"#, "object"),
        (r#"{"type":"track""#, "message"),
    ];
    for (m, needle) in bad {
        assert_eq!(client.enqueue(m), Status::InvalidJson, "{m}");
        let err = client.last_error().unwrap();
        assert!(err.contains(needle), "{m}: {err}");
    }
    assert_eq!(client.flush(5000), Status::Ok);
    let msgs = wait_messages(&col, ok.len());
    assert_eq!(msgs.len(), ok.len());
    let kinds: Vec<_> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["track", "identify", "page", "screen", "group", "alias", "track"]);
    assert!(msgs.iter().all(|m| m["context"]["library"]["name"] == "flagwire"));
    assert_eq!(msgs[6]["messageId"], "fixed-id-1");
    assert_eq!(msgs[6]["timestamp"], "2026-01-01T00:00:00.000Z");
    assert_eq!(msgs[6]["context"]["ip"], "1.2.3.4");
    let unique: HashSet<_> = message_ids(&msgs).into_iter().collect();
    assert_eq!(unique.len(), ok.len());
    let stats = client.stats();
    assert_eq!(stat(&stats, "dropped_invalid"), bad.len() as u64);
    assert_invariant(&stats);
}

#[test]
fn batches_respect_batch_size_and_interval() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"batch_size": 10, "flush_interval_ms": 60000})));
    for i in 0..35 {
        assert_eq!(client.flag(&format!("u{i}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    }
    // Batches of batch_size leave without waiting for the (one minute) interval; a batch may
    // carry more when more is waiting (it fills up to the byte and count limits).
    assert!(col.wait_for_messages(30, std::time::Duration::from_secs(10)), "full batches were not sent early");
    assert_eq!(client.flush(5000), Status::Ok);
    let sizes: Vec<usize> = col.requests().iter().map(|r| r.message_ids.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 35);
    // Every event once (batches may arrive in any order once several are in flight).
    let mut users: Vec<String> = col.messages().iter().map(|m| m["userId"].as_str().unwrap().to_string()).collect();
    users.sort();
    let mut expected: Vec<String> = (0..35).map(|i| format!("u{i}")).collect();
    expected.sort();
    assert_eq!(users, expected);
    let stats = client.stats();
    assert_eq!(stat(&stats, "batches"), sizes.len() as u64);
    assert!(stat(&stats, "bytes_sent") > 0);
    assert_invariant(&stats);
}

#[test]
fn interval_sends_a_partial_batch_without_flush() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"flush_interval_ms": 100})));
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert!(col.wait_for_messages(1, std::time::Duration::from_secs(10)));
    drop(client);
}

#[test]
fn gzip_can_be_turned_off_and_write_key_travels_in_auth_and_body() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"gzip": false})));
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let r = &col.requests()[0];
    assert_eq!(r.content_encoding, None);
    assert!(r.authorization_ok);
    assert_eq!(r.body_bytes, r.decoded_bytes);
    assert!(r.user_agent.as_deref().unwrap_or("").starts_with("flagwire/"));
}

#[test]
fn wrong_write_key_fails_the_batch_without_retry() {
    let col = collector();
    let mut cfg = config(&col.url(), json!({}));
    cfg["write_key"] = Value::String("not-the-key".into());
    let client = TestClient::new(&cfg);
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(5000), Status::Ok);
    let stats = client.stats();
    assert_eq!((stat(&stats, "failed"), stat(&stats, "retries"), stat(&stats, "delivered")), (1, 0, 0));
    assert_eq!(col.requests().len(), 1);
    assert_eq!(col.requests()[0].status, 401);
    assert_invariant(&stats);
}

#[test]
fn datafile_refused_keeps_previous() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.set_datafile(REPEATED_KEYS_DATAFILE), Status::Ok);
    assert_eq!(client.set_datafile("{\"experiments\": 5}"), Status::InvalidJson);
    assert!(client.last_error().unwrap().contains("previous datafile is kept"));
    // Still classified with the first datafile: flag_b's shared_rule is a delivery.
    assert_eq!(client.decision(&flag_notification("u", "flag_b", "shared_rule", "on", Some(true))), Status::Skipped);
}
