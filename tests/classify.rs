//! What is an exposure and what the event says (issues 12 items 5 and 9, 18 item 3, 19), over real
//! HTTP to the test collector: holdouts, rule and experiment types, Feature Rollout "everyone else",
//! forced variations, decisions held while the datafile lags the SDK, per-variation counts.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HOLDOUTS_DATAFILE: &str = include_str!("data/datafile-holdouts.json");

/// The holdouts datafile without `banner_td` (experiment 2005) and `checkout_delivery` (rollout
/// rule 6001): what a client holds while the SDK already decides on a newer revision.
fn lagging_datafile() -> String {
    let mut df: Value = serde_json::from_str(HOLDOUTS_DATAFILE).unwrap();
    df["revision"] = json!("11");
    df["experiments"].as_array_mut().unwrap().retain(|e| e["id"] != "2005");
    for f in df["featureFlags"].as_array_mut().unwrap() {
        if f["key"] == "banner_flow" {
            f["experimentIds"] = json!([]);
        }
    }
    let rollouts = df["rollouts"].as_array_mut().unwrap();
    rollouts[0]["experiments"].as_array_mut().unwrap().retain(|r| r["id"] != "6001");
    df.to_string()
}

/// A Python-SDK-shaped DECISION notification with the ids the SDK sends.
fn python_notification(user: &str, flag: &str, rule: &str, variation: &str, ids: (&str, &str), dispatched: bool) -> String {
    json!({"type": "flag", "user_id": user, "attributes": {}, "decision_info": {
        "flag_key": flag, "enabled": false, "variables": {}, "variation_key": variation, "rule_key": rule,
        "reasons": [], "decision_event_dispatched": dispatched, "experiment_id": ids.0, "variation_id": ids.1}})
    .to_string()
}

/// Every held decision is resolved exactly once, or still held.
fn assert_hold_accounting(stats: &Value) {
    let released = stat(stats, "released_by_datafile") + stat(stats, "released_by_timeout") + stat(stats, "released_by_flush");
    assert_eq!(stat(stats, "held"), released + stat(stats, "held_now"), "{stats}");
}

fn props(m: &Value) -> &Value {
    &m["properties"]
}

fn by_user(msgs: &[Value], user: &str) -> Value {
    let found: Vec<&Value> = msgs.iter().filter(|m| m["userId"] == user).collect();
    assert_eq!(found.len(), 1, "{user}: {msgs:?}");
    found[0].clone()
}

#[test]
fn holdout_decisions_are_exposures_with_the_holdout_ids_on_both_paths() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    // JSON path, as python-sdk 5.7.0 notifies a global holdout decision.
    let n = python_notification("json-global", "checkout_flow", "global_holdout", "off", ("8001", "8101"), true);
    assert_eq!(client.decision(&n), Status::Ok);
    // Fast path: keys only; the ids come from the datafile.
    assert_eq!(client.flag("fast-global", "promo_a", Some("global_holdout"), Some("off"), false, 1, None), Status::Ok);
    assert_eq!(client.flag("fast-local", "checkout_flow", Some("local_holdout"), Some("off"), false, -1, None), Status::Ok);
    // The flag the global holdout excludes: an SDK that ignores excludedFlags decided it; still a holdout.
    assert_eq!(client.flag("fast-excluded", "search_flow", Some("global_holdout"), Some("off"), false, 1, None), Status::Ok);
    // DISABLE_DECISION_EVENT: the SDK sent no impression.
    assert_eq!(client.flag("disabled", "checkout_flow", Some("global_holdout"), Some("off"), false, 0, None), Status::Skipped);
    assert_eq!(client.flush(5000), Status::Ok);
    let msgs = wait_messages(&col, 4);
    assert_eq!(msgs.len(), 4);
    for (user, flag, rule, ids) in [
        ("json-global", "checkout_flow", "global_holdout", ("8001", "8101")),
        ("fast-global", "promo_a", "global_holdout", ("8001", "8101")),
        ("fast-local", "checkout_flow", "local_holdout", ("8002", "8201")),
        ("fast-excluded", "search_flow", "global_holdout", ("8001", "8101")),
    ] {
        let m = by_user(&msgs, user);
        assert_eq!(props(&m)["flagKey"], flag, "{m}");
        assert_eq!(props(&m)["ruleKey"], rule);
        assert_eq!(props(&m)["ruleType"], "holdout");
        assert!(props(&m).get("experimentType").is_none());
        assert_eq!((props(&m)["experiment_id"].as_str(), props(&m)["variation_id"].as_str()), (Some(ids.0), Some(ids.1)));
        assert_eq!(props(&m)["experiment_name"], rule);
        assert_eq!(props(&m)["variation_name"], "off");
    }
    let stats = client.stats();
    assert_eq!((stat(&stats, "exposures"), stat(&stats, "holdout_exposures"), stat(&stats, "held")), (4, 4, 0));

    // include_holdouts: false restores the old behaviour.
    col.reset();
    let client = TestClient::new(&config(&col.url(), json!({"include_holdouts": false})));
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    assert_eq!(client.decision(&n), Status::Skipped);
    assert_eq!(client.flag("fast", "checkout_flow", Some("local_holdout"), Some("off"), false, 1, None), Status::Skipped);
    let stats = client.stats();
    assert_eq!((stat(&stats, "skipped"), stat(&stats, "holdout_exposures"), stat(&stats, "held")), (2, 0, 0));
}

#[test]
fn every_event_says_its_rule_type_and_the_datafile_experiment_type() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"include_rollouts": true})));
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    let cases = [
        ("ab", "checkout_flow", "checkout_ab", "treatment", Some("experiment"), Some("ab")),
        ("mab", "promo_b", "promo_b_test", "b_control", Some("experiment"), Some("mab")),
        ("td", "banner_flow", "banner_td", "on", Some("experiment"), Some("td")),
        ("fr", "search_flow", "search_fr", "on", Some("experiment"), Some("fr")),
        ("rollout", "checkout_flow", "checkout_delivery", "on", Some("rollout"), None),
        ("everyone-else", "promo_a", "default-rollout-3003", "off", Some("rollout"), None),
        ("holdout", "checkout_flow", "global_holdout", "off", Some("holdout"), None),
    ];
    for (user, flag, rule, variation, _, _) in cases {
        assert_eq!(client.flag(user, flag, Some(rule), Some(variation), true, 1, None), Status::Ok, "{user}");
    }
    assert_eq!(client.shutdown(5000), Status::Ok);
    let msgs = wait_messages(&col, cases.len());
    for (user, _, _, _, rule_type, experiment_type) in cases {
        let m = by_user(&msgs, user);
        assert_eq!(props(&m).get("ruleType").and_then(Value::as_str), rule_type, "{m}");
        assert_eq!(props(&m).get("experimentType").and_then(Value::as_str), experiment_type, "{m}");
    }

    // property_style optimizely carries them too; segment does not; without a datafile a `flag`
    // decision's rule type cannot be known, so it is left out.
    for (style, datafile, expect) in [("optimizely", true, Some(("experiment", "ab"))), ("segment", true, None), ("both", false, None)] {
        col.reset();
        let client = TestClient::new(&config(&col.url(), json!({"property_style": style})));
        if datafile {
            assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
        }
        assert_eq!(client.flag("u", "checkout_flow", Some("checkout_ab"), Some("control"), false, 1, None), Status::Ok);
        assert_eq!(client.shutdown(5000), Status::Ok);
        let m = &wait_messages(&col, 1)[0];
        let got = props(m).get("ruleType").map(|t| (t.as_str().unwrap(), props(m)["experimentType"].as_str().unwrap()));
        assert_eq!(got, expect, "{style}: {m}");
    }
    // Legacy notifications say their source: known without a datafile.
    col.reset();
    let client = TestClient::new(&config(&col.url(), json!({})));
    let go_holdout = r#"{"type":"feature","userId":"legacy","decisionInfo":{"feature":{"featureKey":"checkout_flow","featureEnabled":false,"source":"holdout","sourceInfo":{"experimentKey":"global_holdout","variationKey":"off"}}}}"#;
    assert_eq!(client.decision(go_holdout), Status::Ok);
    assert_eq!(client.shutdown(5000), Status::Ok);
    assert_eq!(props(&wait_messages(&col, 1)[0])["ruleType"], "holdout");
}

/// python-sdk 5.7.0 adds the flag's "everyone else" variation to `fr` experiments; users bucketed
/// into it get an impression with that variation's id. Before: no `variation_id` on the fast path.
#[test]
fn feature_rollout_everyone_else_has_its_variation_id_on_the_fast_path() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    assert_eq!(client.flag("in-rollout", "search_flow", Some("search_fr"), Some("on"), true, 1, None), Status::Ok);
    assert_eq!(client.flag("everyone-else", "search_flow", Some("search_fr"), Some("off"), false, 1, None), Status::Ok);
    assert_eq!(client.shutdown(5000), Status::Ok);
    let msgs = wait_messages(&col, 2);
    assert_eq!(props(&by_user(&msgs, "in-rollout"))["variation_id"], "5201");
    let m = by_user(&msgs, "everyone-else");
    assert_eq!((props(&m)["experiment_id"].as_str(), props(&m)["variation_id"].as_str()), (Some("2002"), Some("7202")), "{m}");
    assert_eq!(props(&m)["experimentType"], "fr");
}

/// A forced decision (`setForcedDecision` on a rule) may use any variation of the flag; the SDK
/// sends an impression with the rule's id and that variation's id, and so does flagwire.
#[test]
fn forced_variation_from_another_rule_of_the_flag_is_an_exposure_with_its_id() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    assert_eq!(client.flag("forced", "checkout_flow", Some("checkout_ab"), Some("on"), true, 1, None), Status::Ok);
    assert_eq!(client.shutdown(5000), Status::Ok);
    let m = &wait_messages(&col, 1)[0];
    assert_eq!((props(m)["experiment_id"].as_str(), props(m)["variation_id"].as_str(), props(m)["ruleType"].as_str()), (Some("2001"), Some("7001"), Some("experiment")));
}

#[test]
fn decisions_on_rules_the_datafile_lacks_are_held_until_the_next_datafile_classifies_them() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"hold_timeout_ms": 60000})));
    assert_eq!(client.set_datafile(&lagging_datafile()), Status::Ok);
    let before = time::OffsetDateTime::now_utc();
    // A new experiment on a known flag (fast path), a new rollout rule (JSON path), a rule no
    // datafile will list, and an unknown flag.
    assert_eq!(client.flag("new-td", "banner_flow", Some("banner_td"), Some("on"), true, 1, None), Status::Ok);
    assert_eq!(client.decision(&python_notification("new-rollout", "checkout_flow", "checkout_delivery", "on", ("6001", "7001"), true)), Status::Ok);
    assert_eq!(client.flag("never", "checkout_flow", Some("ghost_rule"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flag("new-flag", "brand_new_flag", Some("r"), Some("v"), true, 1, None), Status::Ok);
    // Cannot be an exposure whatever the rule: not held.
    assert_eq!(client.flag("disabled", "checkout_flow", Some("ghost_rule"), Some("v"), true, 0, None), Status::Skipped);
    let stats = client.stats();
    assert_eq!((stat(&stats, "held"), stat(&stats, "held_now"), stat(&stats, "enqueued")), (4, 4, 0), "{stats}");
    std::thread::sleep(Duration::from_millis(300));

    // The datafile the SDK decided on arrives: two are classified, two wait on.
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    let stats = client.stats();
    assert_eq!((stat(&stats, "released_by_datafile"), stat(&stats, "held_now"), stat(&stats, "exposures"), stat(&stats, "skipped")), (2, 2, 1, 2), "{stats}");
    assert!(col.wait_for_messages(1, Duration::from_secs(10)));
    let m = by_user(&col.messages(), "new-td");
    assert_eq!((props(&m)["experiment_id"].as_str(), props(&m)["variation_id"].as_str()), (Some("2005"), Some("5501")));
    assert_eq!((props(&m)["ruleType"].as_str(), props(&m)["experimentType"].as_str()), (Some("experiment"), Some("td")));
    // The event's time is the decision's, not the release's.
    let ts = time::OffsetDateTime::parse(m["timestamp"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    assert!(ts < before + time::Duration::milliseconds(250), "timestamp {ts} is not the decision time {before}");

    // The flush resolves the rest by the fallback rule: exposures, no ids the datafile lacks, no ruleType.
    assert_eq!(client.flush(5000), Status::Ok);
    let msgs = wait_messages(&col, 3);
    assert_eq!(msgs.len(), 3, "the rollout rule is not an exposure");
    for user in ["never", "new-flag"] {
        let m = by_user(&msgs, user);
        assert!(props(&m).get("ruleType").is_none() && props(&m).get("experiment_id").is_none(), "{m}");
    }
    let stats = client.stats();
    assert_eq!((stat(&stats, "released_by_flush"), stat(&stats, "held_now"), stat(&stats, "exposures")), (2, 0, 3), "{stats}");
    assert_invariant(&stats);
    assert_hold_accounting(&stats);
}

/// The timeout fires with no further call: the sender's periodic wake releases held decisions.
#[test]
fn held_decisions_fall_back_after_the_timeout_without_any_further_call() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"hold_timeout_ms": 200, "flush_interval_ms": 50})));
    assert_eq!(client.set_datafile(&lagging_datafile()), Status::Ok);
    let start = Instant::now();
    let n = python_notification("lagged", "banner_flow", "banner_td", "on", ("2005", "5501"), true);
    assert_eq!(client.decision(&n), Status::Ok);
    assert!(col.wait_for_messages(1, Duration::from_secs(10)), "the held decision was never released");
    assert!(start.elapsed() >= Duration::from_millis(200), "released before its timeout");
    let m = &col.messages()[0];
    assert_eq!(m["userId"], "lagged");
    // The SDK's own ids travel through; the kind of rule is unknown.
    assert_eq!((props(m)["experiment_id"].as_str(), props(m)["variation_id"].as_str()), (Some("2005"), Some("5501")));
    assert!(props(m).get("ruleType").is_none(), "{m}");
    let stats = client.stats();
    assert_eq!((stat(&stats, "held"), stat(&stats, "released_by_timeout"), stat(&stats, "held_now")), (1, 1, 0), "{stats}");
    assert_hold_accounting(&stats);
}

#[test]
fn a_full_hold_resolves_new_decisions_at_once_and_shutdown_resolves_the_rest() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"hold_max_events": 2, "hold_timeout_ms": 60000})));
    assert_eq!(client.set_datafile(&lagging_datafile()), Status::Ok);
    for i in 0..5 {
        assert_eq!(client.flag(&format!("u{i}"), "banner_flow", Some("banner_td"), Some("on"), true, 1, None), Status::Ok);
    }
    let stats = client.stats();
    assert_eq!((stat(&stats, "held"), stat(&stats, "hold_full"), stat(&stats, "held_now"), stat(&stats, "enqueued")), (2, 3, 2, 3), "{stats}");
    assert_eq!(client.shutdown(5000), Status::Ok);
    let msgs = wait_messages(&col, 5);
    let mut users: Vec<&str> = msgs.iter().map(|m| m["userId"].as_str().unwrap()).collect();
    users.sort();
    assert_eq!(users, ["u0", "u1", "u2", "u3", "u4"]);

    // By bytes too; and 0 turns holding off.
    for extra in [json!({"hold_max_bytes": 0}), json!({"hold_max_events": 0})] {
        col.reset();
        let client = TestClient::new(&config(&col.url(), extra.clone()));
        assert_eq!(client.set_datafile(&lagging_datafile()), Status::Ok);
        assert_eq!(client.flag("now", "banner_flow", Some("banner_td"), Some("on"), true, 1, None), Status::Ok);
        let stats = client.stats();
        assert_eq!((stat(&stats, "held"), stat(&stats, "hold_full"), stat(&stats, "enqueued")), (0, 1, 1), "{extra}");
    }
}

fn counts(stats: &Value) -> Vec<(String, String, String, u64)> {
    stats["exposures_by_variation"]
        .as_array()
        .unwrap_or_else(|| panic!("no exposures_by_variation: {stats}"))
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("flag_key"), s("rule_key"), s("variation_key"), c["exposures"].as_u64().unwrap())
        })
        .collect()
}

fn row(f: &str, r: &str, v: &str, n: u64) -> (String, String, String, u64) {
    (f.into(), r.into(), v.into(), n)
}

#[test]
fn stats_count_exposures_per_flag_rule_and_variation_within_a_bound() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({})));
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    for i in 0..7 {
        let v = if i % 2 == 0 { "control" } else { "treatment" };
        assert_eq!(client.flag(&format!("u{i}"), "checkout_flow", Some("checkout_ab"), Some(v), true, 1, None), Status::Ok);
    }
    // The JSON path and the fast path count into the same triple, also across a datafile update.
    let n = python_notification("j", "checkout_flow", "checkout_ab", "control", ("2001", "5001"), true);
    assert_eq!(client.decision(&n), Status::Ok);
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    assert_eq!(client.flag("h", "checkout_flow", Some("checkout_ab"), Some("control"), true, 1, None), Status::Ok);
    assert_eq!(client.flag("h", "checkout_flow", Some("global_holdout"), Some("off"), false, 1, None), Status::Ok);
    // Skipped decisions are not counted.
    assert_eq!(client.flag("r", "checkout_flow", Some("checkout_delivery"), Some("on"), true, 1, None), Status::Skipped);
    // No datafile needed for a triple the index does not place (forced variation).
    assert_eq!(client.flag("f", "checkout_flow", Some("checkout_ab"), Some("on"), true, 1, None), Status::Ok);
    let stats = client.stats();
    assert_eq!(
        counts(&stats),
        [row("checkout_flow", "checkout_ab", "control", 6), row("checkout_flow", "checkout_ab", "on", 1),
         row("checkout_flow", "checkout_ab", "treatment", 3), row("checkout_flow", "global_holdout", "off", 1)]
    );
    assert_eq!(stat(&stats, "exposure_counts_overflow"), 0);

    // Bounded: past `max_exposure_counters` triples, exposures are counted in the overflow.
    let client = TestClient::new(&config(&col.url(), json!({"max_exposure_counters": 2})));
    assert_eq!(client.set_datafile(HOLDOUTS_DATAFILE), Status::Ok);
    for (f, r, v) in [("checkout_flow", "checkout_ab", "control"), ("promo_a", "promo_a_test", "a_control"), ("promo_b", "promo_b_test", "b_control"),
                      ("promo_b", "promo_b_test", "b_control"), ("checkout_flow", "checkout_ab", "control"), ("no_datafile_flag", "r", "v")] {
        assert_eq!(client.flag("u", f, Some(r), Some(v), true, 1, None), Status::Ok);
    }
    let stats = client.stats();
    assert_eq!(counts(&stats), [row("checkout_flow", "checkout_ab", "control", 2), row("promo_a", "promo_a_test", "a_control", 1)]);
    assert_eq!(stat(&stats, "exposure_counts_overflow"), 2, "{stats}");
    assert_eq!(stat(&stats, "held_now"), 1);
    assert_eq!(client.flush(5000), Status::Ok);
    let stats = client.stats();
    assert_eq!(stat(&stats, "exposure_counts_overflow"), 3, "the held one counts once released: {stats}");
    let sum: u64 = counts(&stats).iter().map(|c| c.3).sum();
    assert_eq!(sum + stat(&stats, "exposure_counts_overflow"), stat(&stats, "exposures"));
}

/// Decisions held while datafiles are swapped concurrently: each becomes exactly one event (held
/// and released, or classified at once), none is lost or sent twice.
#[test]
fn concurrent_decisions_and_datafile_updates_lose_and_duplicate_nothing() {
    let col = collector();
    let client = TestClient::new(&config(&col.url(), json!({"hold_timeout_ms": 60000, "max_queue_events": 100000})));
    let (lagging, full) = (lagging_datafile(), HOLDOUTS_DATAFILE.to_string());
    assert_eq!(client.set_datafile(&lagging), Status::Ok);
    let (threads, per_thread) = (4, 500);
    std::thread::scope(|s| {
        for t in 0..threads {
            let client = &client;
            s.spawn(move || {
                for i in 0..per_thread {
                    let st = client.flag(&format!("t{t}-{i}"), "banner_flow", Some("banner_td"), Some("on"), true, 1, None);
                    assert_eq!(st, Status::Ok);
                }
            });
        }
        for i in 0..60 {
            assert_eq!(client.set_datafile(if i % 2 == 0 { &full } else { &lagging }), Status::Ok);
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    assert_eq!(client.flush(20_000), Status::Ok);
    let msgs = wait_messages(&col, threads * per_thread);
    let users: std::collections::HashSet<&str> = msgs.iter().map(|m| m["userId"].as_str().unwrap()).collect();
    assert_eq!((msgs.len(), users.len()), (threads * per_thread, threads * per_thread));
    let stats = client.stats();
    assert_eq!(stat(&stats, "exposures"), (threads * per_thread) as u64, "{stats}");
    assert_hold_accounting(&stats);
    assert_invariant(&stats);
}
