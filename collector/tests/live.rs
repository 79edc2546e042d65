//! The live page's routes over real HTTP (the page itself is tested in Chromium by
//! live_page.rs): the page and its vendored chart library, the datafile routes, the per-rule
//! summary with its SRM verdict, the event list and its filters.

mod common;

use common::{agent, spawn_binary, ureq_get, ureq_post};
use flagwire_collector::{Collector, CollectorOptions};
use serde_json::{json, Value};

const DATAFILE: &str = include_str!("../../tests/data/minimal-datafile.json");

/// An exposure in flagwire's "optimizely" property style (camelCase ids).
fn exposure(user: &str, variation: &str, variation_id: &str) -> Value {
    json!({"type":"track","event":"Experiment Viewed","userId":user,
           "properties":{"flagKey":"checkout_flow","ruleKey":"checkout_ab","variationKey":variation,
                         "experimentId":"2001","variationId":variation_id}})
}

fn send(c: &Collector, msgs: &[Value]) {
    let body = json!({ "batch": msgs }).to_string();
    assert_eq!(
        ureq_post(&agent(), &c.url(), "/v1/batch", body.as_bytes()).status,
        200
    );
}

#[test]
fn page_and_chart_library_are_served() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    let a = agent();
    let page = ureq_get(&a, &c.url(), "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page
        .text()
        .contains("<script src=\"/assets/chart.umd.min.js\">"));
    let js = ureq_get(&a, &c.url(), "/assets/chart.umd.min.js");
    assert_eq!(js.status, 200);
    assert!(js.text().starts_with("/*!\n * Chart.js v4.6.1"));
    assert!(ureq_get(&a, &c.url(), "/assets/chart.js-LICENSE.md")
        .text()
        .contains("The MIT License"));
    assert_eq!(ureq_get(&a, &c.url(), "/nope").status, 404);
}

#[test]
fn summary_counts_unique_users_against_the_allocation() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    let a = agent();
    assert_eq!(
        ureq_get(&a, &c.url(), "/_test/datafile").json(),
        json!({"loaded": false, "revision": null, "experiments": null})
    );
    let r = ureq_post(&a, &c.url(), "/_test/datafile", DATAFILE.as_bytes());
    assert_eq!(r.json(), json!({"ok": true, "experiments": 1}));
    assert_eq!(
        ureq_post(&a, &c.url(), "/_test/datafile", b"[1]").status,
        400
    );
    assert_eq!(
        ureq_get(&a, &c.url(), "/_test/datafile").json()["revision"],
        "1"
    );

    // 60 control users (each exposed twice), 40 treatment users, one stray variation, one
    // user in both variations.
    let mut msgs: Vec<Value> = (0..60)
        .flat_map(|i| vec![exposure(&format!("c{i}"), "control", "5001"); 2])
        .collect();
    msgs.extend((0..40).map(|i| exposure(&format!("t{i}"), "treatment", "5002")));
    msgs.push(exposure("c0", "treatment", "5002"));
    msgs.push(exposure("x", "ghost", "9999"));
    msgs.push(json!({"type":"identify","userId":"c1","traits":{}}));
    send(&c, &msgs);

    let s = ureq_get(&a, &c.url(), "/_test/live").json();
    assert_eq!(s, c.live_summary());
    assert_eq!(
        (s["messages"].clone(), s["exposures"].clone()),
        (json!(163), json!(162))
    );
    let rule = &s["rules"][0];
    assert_eq!(
        (
            rule["flag"].clone(),
            rule["rule"].clone(),
            rule["kind"].clone()
        ),
        (
            json!("checkout_flow"),
            json!("checkout_ab"),
            json!("experiment")
        )
    );
    let v = &rule["variations"];
    assert_eq!(
        (
            v[0]["key"].clone(),
            v[0]["users"].clone(),
            v[0]["events"].clone(),
            v[0]["share"].clone()
        ),
        (json!("control"), json!(60), json!(120), json!(0.5))
    );
    assert_eq!(
        (v[1]["users"].clone(), v[1]["events"].clone()),
        (json!(41), json!(41))
    );
    assert_eq!(
        (
            v[2]["key"].clone(),
            v[2]["share"].clone(),
            v[2]["users"].clone()
        ),
        (json!("ghost"), Value::Null, json!(1))
    );
    assert_eq!(rule["users_in_several_variations"], 1);
    assert_eq!(rule["users_outside_allocation"], 1);
    // 101 users in the allocation, expected 50.5 each: chi2 = (9.5² + 9.5²) / 50.5.
    assert_eq!(v[0]["expected"], 50.5);
    let chi2 = rule["srm"]["chi2"].as_f64().unwrap();
    assert!((chi2 - 2.0 * 9.5 * 9.5 / 50.5).abs() < 1e-9, "{chi2}");
    assert_eq!(rule["srm"]["status"], "ok", "{}", rule["srm"]);

    // Skewed enough: 60 more control users make it an SRM.
    send(
        &c,
        &(60..120)
            .map(|i| exposure(&format!("c{i}"), "control", "5001"))
            .collect::<Vec<_>>(),
    );
    let s = c.live_summary();
    assert_eq!(
        s["rules"][0]["srm"]["status"], "mismatch",
        "{}",
        s["rules"][0]["srm"]
    );
    assert!(s["rules"][0]["srm"]["p_value"].as_f64().unwrap() < 0.001);

    // reset() starts the page over.
    c.reset();
    let s = c.live_summary();
    assert_eq!(
        (s["messages"].clone(), s["rules"][0]["users"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(s["rules"][0]["srm"]["status"], "no_data");
}

#[test]
fn small_samples_and_rules_outside_the_datafile() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    send(
        &c,
        &[
            exposure("a", "control", "5001"),
            exposure("b", "treatment", "5002"),
        ],
    );
    // No datafile: the rule is listed, with nothing to test against.
    let s = c.live_summary();
    assert_eq!(s["datafile"], Value::Null);
    assert_eq!(s["rules"][0]["kind"], "not_in_datafile");
    assert_eq!(s["rules"][0]["srm"]["status"], "no_allocation");
    c.set_datafile_json(DATAFILE).unwrap();
    let s = c.live_summary();
    assert_eq!(
        s["rules"][0]["srm"]["status"], "not_enough_data",
        "{}",
        s["rules"][0]["srm"]
    );
    assert_eq!(
        s["rules"].as_array().unwrap().len(),
        1,
        "the same rule, now resolved by id"
    );
}

#[test]
fn events_are_newest_first_and_filterable() {
    let c = Collector::start(CollectorOptions::default()).unwrap();
    let mut msgs: Vec<Value> = (0..5)
        .map(|i| exposure(&format!("user-{i}"), "control", "5001"))
        .collect();
    msgs.push(json!({"type":"track","event":"Order Completed","userId":"user-1","properties":{"flagKey":"other_flag"}}));
    send(&c, &msgs);
    let a = agent();
    let e = ureq_get(&a, &c.url(), "/_test/live/events").json();
    assert_eq!(
        (e["total"].clone(), e["exposures"].clone()),
        (json!(6), json!(5))
    );
    let seqs: Vec<u64> = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![6, 5, 4, 3, 2, 1]);
    assert_eq!(
        e["events"][1],
        json!({"seq":5,"type":"track","event":"Experiment Viewed","user":"user-4","flag":"checkout_flow",
                                      "rule":"checkout_ab","variation":"control","timestamp":null})
    );
    let by_user = ureq_get(&a, &c.url(), "/_test/live/events?user=user-1").json();
    assert_eq!(by_user["events"].as_array().unwrap().len(), 2);
    let by_flag = ureq_get(&a, &c.url(), "/_test/live/events?flag=other%5Fflag&limit=5").json();
    assert_eq!(by_flag["events"][0]["event"], "Order Completed");
    assert_eq!(by_flag["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        ureq_get(&a, &c.url(), "/_test/live/events?limit=2").json()["events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        ureq_get(&a, &c.url(), "/_test/live/events?limit=x").status,
        400
    );
}

#[test]
fn binary_takes_a_datafile() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/minimal-datafile.json"
    );
    let (mut child, _out, port) = spawn_binary(&["--port", "0", "--quiet", "--datafile", path]);
    let d = ureq_get(
        &agent(),
        &format!("http://127.0.0.1:{port}"),
        "/_test/datafile",
    )
    .json();
    assert_eq!(
        d,
        json!({"loaded": true, "revision": "1", "experiments": 1})
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .args(["--datafile", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
