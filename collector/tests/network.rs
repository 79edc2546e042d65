//! The collector as a stand-in for the internet, over real HTTP: per-request latency with
//! jitter (issue 11 item 4), the concurrency gauge, and scripted redirects.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{agent, spawn_binary, ureq_get, ureq_post};
use flagwire_collector::{Collector, CollectorOptions};
use serde_json::{json, Value};

fn batch(users: &[&str]) -> Vec<u8> {
    let msgs: Vec<Value> = users
        .iter()
        .map(|u| json!({"type":"track","event":"Experiment Viewed","userId":u,"messageId":format!("m-{u}")}))
        .collect();
    json!({ "batch": msgs }).to_string().into_bytes()
}

fn start(latency_ms: u64, jitter_ms: u64) -> Collector {
    Collector::start(CollectorOptions {
        latency_ms,
        jitter_ms,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn every_segment_request_waits_at_least_the_latency() {
    let c = start(120, 0);
    assert_eq!(c.latency(), (Duration::from_millis(120), Duration::ZERO));
    let a = agent();
    for i in 0..3 {
        let t = Instant::now();
        let r = ureq_post(&a, &c.url(), "/v1/batch", &batch(&[&format!("u{i}")]));
        assert_eq!(r.status, 200);
        assert!(
            t.elapsed() >= Duration::from_millis(120),
            "answered after {:?}",
            t.elapsed()
        );
    }
    // A refused request waits too (the network does not know the answer).
    let t = Instant::now();
    assert_eq!(ureq_post(&a, &c.url(), "/v1/batch", b"{").status, 400);
    assert!(t.elapsed() >= Duration::from_millis(120));
    assert_eq!(c.message_count(), 3);
}

#[test]
fn jitter_is_drawn_per_request_within_its_bounds() {
    let c = start(0, 0);
    c.set_latency(Duration::from_millis(40), Duration::from_millis(120));
    let a = agent();
    let mut took = Vec::new();
    for i in 0..8 {
        let t = Instant::now();
        assert_eq!(
            ureq_post(&a, &c.url(), "/v1/batch", &batch(&[&format!("u{i}")])).status,
            200
        );
        took.push(t.elapsed());
    }
    assert!(
        took.iter().all(|d| *d >= Duration::from_millis(40)),
        "{took:?}"
    );
    // Eight draws from [40, 160] ms are not all equal to the floor (probability ~0).
    assert!(
        took.iter().any(|d| *d >= Duration::from_millis(45)),
        "{took:?}"
    );
}

#[test]
fn control_and_profile_routes_are_not_delayed() {
    let c = start(5_000, 0);
    let a = agent();
    let t = Instant::now();
    assert_eq!(ureq_get(&a, &c.url(), "/_test/count").status, 200);
    let r = a
        .get(format!(
            "{}/v1/spaces/s/collections/users/profiles/user_id:x/traits",
            c.url()
        ))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        t.elapsed() < Duration::from_millis(4_000),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn latency_control_route_reads_and_sets() {
    let c = start(0, 0);
    let a = agent();
    assert_eq!(
        ureq_get(&a, &c.url(), "/_test/latency").json(),
        json!({"latency_ms": 0, "jitter_ms": 0})
    );
    let r = ureq_post(
        &a,
        &c.url(),
        "/_test/latency",
        br#"{"latency_ms":150,"jitter_ms":20}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"latency_ms": 150, "jitter_ms": 20}));
    assert_eq!(
        c.latency(),
        (Duration::from_millis(150), Duration::from_millis(20))
    );
    let t = Instant::now();
    assert_eq!(
        ureq_post(&a, &c.url(), "/v1/batch", &batch(&["u"])).status,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(150));
    // Refused: unknown key, negative, too large, not JSON. The setting is unchanged.
    for bad in [
        &br#"{"latency":5}"#[..],
        br#"{"latency_ms":-1}"#,
        br#"{"latency_ms":600001}"#,
        b"x",
    ] {
        let r = ureq_post(&a, &c.url(), "/_test/latency", bad);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(r.json()["ok"], json!(false));
    }
    assert_eq!(
        ureq_get(&a, &c.url(), "/_test/latency").json(),
        json!({"latency_ms": 150, "jitter_ms": 20})
    );
    // reset() keeps the latency (it is configuration, like the profile fixture).
    ureq_post(&a, &c.url(), "/_test/reset", b"");
    assert_eq!(c.latency().0, Duration::from_millis(150));
    ureq_post(&a, &c.url(), "/_test/latency", b"{}");
    assert_eq!(c.latency(), (Duration::ZERO, Duration::ZERO));
}

#[test]
fn stop_cuts_the_latency_short() {
    let c = start(60_000, 0);
    let url = c.url();
    let client = thread::spawn(move || {
        let t = Instant::now();
        let r = agent()
            .post(format!("{url}/v1/batch"))
            .header("Authorization", &common::basic("k"))
            .send(&batch(&["u"])[..]);
        (r.is_err(), t.elapsed())
    });
    // Wait (bounded) until the request is inside the collector.
    let t = Instant::now();
    while c.in_flight() == 0 && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(5));
    }
    c.stop();
    let (failed, took) = client.join().unwrap();
    assert!(failed, "a stopped collector answers nothing");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn binary_flags_set_the_latency() {
    let (mut child, _out, port) = spawn_binary(&[
        "--port",
        "0",
        "--quiet",
        "--latency-ms",
        "110",
        "--jitter-ms=30",
    ]);
    let base = format!("http://127.0.0.1:{port}");
    let a = agent();
    assert_eq!(
        ureq_get(&a, &base, "/_test/latency").json(),
        json!({"latency_ms": 110, "jitter_ms": 30})
    );
    let t = Instant::now();
    assert_eq!(
        ureq_post(&a, &base, "/v1/batch", &batch(&["u"])).status,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(110));
    child.kill().unwrap();
    child.wait().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .args(["--latency-ms", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--latency-ms must be an integer"));
}

#[test]
fn parallel_requests_overlap() {
    let c = Arc::new(start(400, 0));
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (c, b) = (c.clone(), barrier.clone());
            thread::spawn(move || {
                let a = agent();
                b.wait();
                ureq_post(&a, &c.url(), "/v1/batch", &batch(&[&format!("p{i}")])).status
            })
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), 200);
    }
    assert_eq!(
        c.max_concurrent(),
        2,
        "two connections each held 400 ms must overlap"
    );
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.message_count(), 2);
}

#[test]
fn gauge_is_in_count_route_and_reset_restarts_it() {
    let c = start(0, 0);
    let a = agent();
    assert_eq!(
        ureq_get(&a, &c.url(), "/_test/count").json(),
        json!({"count": 0, "requests": 0, "in_flight": 0, "max_concurrent": 0})
    );
    c.script(vec![flagwire_collector::Step::Hang]);
    let url = c.url();
    let hung = thread::spawn(move || {
        agent()
            .post(format!("{url}/v1/batch"))
            .send(&batch(&["h"])[..])
            .is_err()
    });
    let t = Instant::now();
    while c.in_flight() == 0 && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.in_flight(), 1, "a hung request is in flight");
    assert_eq!(
        ureq_post(&a, &c.url(), "/v1/batch", &batch(&["x"])).status,
        200
    );
    let count = ureq_get(&a, &c.url(), "/_test/count").json();
    assert_eq!(
        (count["in_flight"].clone(), count["max_concurrent"].clone()),
        (json!(1), json!(2))
    );
    c.reset();
    assert_eq!(
        (c.in_flight(), c.max_concurrent()),
        (1, 1),
        "reset restarts from the requests still in flight"
    );
    c.stop();
    assert!(hung.join().unwrap());
}

#[test]
fn scripted_redirect_is_answered_with_location_and_accepts_nothing() {
    let c = start(0, 0);
    let a = common::agent_no_redirects();
    let target = format!("{}/v1/batch", c.url());
    // Scripted over HTTP as the other languages' tests do.
    let steps = json!({"steps": [{"redirect": 307, "location": target}, {"redirect": 308, "location": "/v1/import"}]});
    let r = ureq_post(&a, &c.url(), "/_test/script", steps.to_string().as_bytes());
    assert_eq!(r.json(), json!({"ok": true, "pending": 2}));
    assert_eq!(ureq_get(&a, &c.url(), "/_test/script").json(), steps);

    let r = ureq_post(&a, &c.url(), "/v1/batch", &batch(&["r1"]));
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some(target.as_str()));
    let r = ureq_post(&a, &c.url(), "/v1/batch", &batch(&["r2"]));
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/v1/import"));
    assert_eq!(c.message_count(), 0, "a redirect accepts nothing");
    // The client repeats the request at the Location: accepted there.
    assert_eq!(
        ureq_post(&a, &c.url(), "/v1/batch", &batch(&["r1"])).status,
        200
    );
    assert_eq!(c.message_count(), 1);

    let reqs = ureq_get(&a, &c.url(), "/_test/requests").json();
    let statuses: Vec<u64> = reqs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![307, 308, 200]);
    assert_eq!(reqs["requests"][0]["message_ids"], json!(["m-r1"]));

    let bad = ureq_post(
        &a,
        &c.url(),
        "/_test/script",
        br#"{"steps":[{"redirect":307}]}"#,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("location"));
}

#[test]
fn redirect_step_in_the_profile_script() {
    let c = start(0, 0);
    c.script_profiles(vec![flagwire_collector::Step::Redirect {
        code: 307,
        location: "/elsewhere".into(),
    }]);
    let r = ureq_get(
        &common::agent_no_redirects(),
        &c.url(),
        "/v1/spaces/s/collections/users/profiles/user_id:u/traits",
    );
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some("/elsewhere"));
    assert_eq!(c.profile_requests()[0].status, 307);
}
