//! Endpoints and redirects (issue 12 items 3 and 6): endpoints are parsed by a URL parser and
//! user-info is refused; 307/308 are followed with the same method and body, a bounded number of
//! times, never from https to http, and a 308 moves every later request.

mod common;

use common::*;
use serde_json::json;

fn send(client: &TestClient, prefix: &str, n: usize) {
    for i in 0..n {
        assert_eq!(client.flag(&format!("{prefix}{i}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    }
}

#[test]
fn temporary_and_permanent_redirects_deliver_once_at_the_target() {
    let (old, new) = (collector(), collector());
    let target = format!("{}/v1/batch", new.url());
    old.script(vec![Step::Redirect { code: 307, location: target.clone() }]);
    let client = TestClient::new(&config(&old.url(), json!({})));
    send(&client, "t", 5);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(new.messages().len(), 5, "307: same body at the target");
    assert_eq!(new.requests()[0].message_ids.len(), 5);
    // 307 is temporary: the next batch starts at the old endpoint again.
    send(&client, "t2-", 3);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(old.messages().len(), 3);

    // 308 is permanent: remembered for every later request.
    old.reset();
    new.reset();
    old.script(vec![Step::Redirect { code: 308, location: target }]);
    send(&client, "p", 4);
    assert_eq!(client.flush(5000), Status::Ok);
    send(&client, "p2-", 4);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(old.requests().len(), 1, "only the first request went to the old endpoint");
    assert_eq!(new.messages().len(), 8);
    let stats = client.stats();
    assert_eq!(stat(&stats, "failed"), 0);
    assert_invariant(&stats);
}

#[test]
fn redirects_that_would_leak_or_loop_fail_the_batch_without_retrying() {
    let col = collector();
    // Plain http to a host that is not loopback: refused without connecting anywhere.
    col.script(vec![Step::Redirect { code: 307, location: "http://collector.example/v1/batch".into() }]);
    let client = TestClient::new(&config(&col.url(), json!({})));
    send(&client, "l", 2);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(col.requests().len(), 1, "not retried");
    assert_eq!(stat(&client.stats(), "failed"), 2);

    // A loop: at most 1 + 5 hops, then the batch fails.
    col.reset();
    let me = format!("{}/v1/batch", col.url());
    col.script(vec![Step::Redirect { code: 307, location: me }; 10]);
    send(&client, "loop", 1);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(col.requests().len(), 6);
    assert_eq!(stat(&client.stats(), "failed"), 3);
    assert_invariant(&client.stats());
}

#[test]
fn endpoints_with_user_info_or_tricky_hosts_are_refused_at_init() {
    let col = collector();
    let port = col.port();
    for endpoint in [
        format!("http://localhost:@127.0.0.1:{port}"),
        format!("http://localhost@127.0.0.1:{port}"),
        format!("http://user:pass@127.0.0.1:{port}"),
        "http://127.0.0.1.nip.io:9".to_string(),
        "http://localhost.example:9".to_string(),
        format!("http://127.0.0.1:{port}/?q=1"),
        format!("http://127.0.0.1:{port}/#frag"),
    ] {
        let err = TestClient::try_new(&config(&endpoint, json!({}))).err().unwrap_or_else(|| panic!("accepted {endpoint}"));
        assert_eq!(err.0, Status::InvalidConfig, "{endpoint}");
        assert!(err.1.contains("endpoint"), "{endpoint}: {}", err.1);
    }
    for profile_endpoint in [format!("http://localhost:@127.0.0.1:{port}"), "http://evil.example".to_string()] {
        let cfg = config(&col.url(), json!({"profile": {"space_id": "s", "access_token": "t", "endpoint": profile_endpoint}}));
        let err = TestClient::try_new(&cfg).err().unwrap();
        assert!(err.1.contains("profile.endpoint"), "{}", err.1);
    }
    assert!(col.requests().is_empty());
    // A base path is kept; the normalized URL is what gets requested.
    let client = TestClient::new(&config(&format!("http://LOCALHOST:{port}/"), json!({})));
    send(&client, "ok", 1);
    assert_eq!(client.flush(5000), Status::Ok);
    assert_eq!(col.messages().len(), 1);
}
