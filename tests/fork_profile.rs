//! Profile API after fork() (issue 12, item 1), over real HTTP to the collector's fixture profiles:
//! a child never reads an answer from a keep-alive socket its parent also uses (which would bind
//! one identifier's traits to another), never waits for a lookup that was in flight in the parent
//! at fork time, and keeps the parent's cached answers. One #[test], so no other test's threads
//! are running when it forks.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const SPACE: &str = "spa_fork";
const TOKEN: &str = "tok_fork";

fn fixture() -> Value {
    let profile = |id: &str, plan: &str| json!({"external_ids": [{"type": "user_id", "id": id}], "traits": {"plan": plan}});
    json!({"space_id": SPACE, "access_token": TOKEN, "profiles": [
        profile("u1", "plan-of-u1"), profile("u2", "plan-of-u2"), profile("u3", "plan-of-u3"), profile("u4", "plan-of-u4"),
    ]})
}

fn setup() -> (Collector, Arc<TestClient>) {
    let col = collector();
    col.set_profiles(fixture()).unwrap();
    let profile = json!({"space_id": SPACE, "access_token": TOKEN, "endpoint": col.url(), "timeout_ms": 3000, "cache_ttl_ms": 600_000});
    let client = TestClient::new(&config(&col.url(), json!({"profile": profile})));
    (col, Arc::new(client))
}

/// The plan trait of the answer, or what came back instead.
fn plan(client: &TestClient, user: &str) -> String {
    match client.profile_attributes(&format!("user_id:{user}")) {
        (Status::Ok, Some(attrs)) => serde_json::from_str::<Value>(&attrs).unwrap()["plan"].as_str().unwrap_or("?").to_string(),
        (status, _) => format!("{status:?}: {:?}", client.last_error()),
    }
}

fn requests_for(col: &Collector, user: &str) -> usize {
    col.profile_requests().iter().filter(|r| r.identifier == format!("user_id:{user}")).count()
}

#[test]
fn profile_lookups_after_fork_are_the_processes_own() {
    // 1. A lookup in flight at fork time: the child asks again on its own connection instead of
    //    waiting for an answer only the parent's thread will receive; the parent's thread still
    //    gets its answer; the child keeps the parent's cached answers.
    let (col, client) = setup();
    assert_eq!(plan(&client, "u1"), "plan-of-u1");
    col.script_profiles(vec![Step::Status { code: 200, retry_after: None, delay_ms: 1000 }]);
    let slow = {
        let client = Arc::clone(&client);
        std::thread::spawn(move || plan(&client, "u2"))
    };
    std::thread::sleep(Duration::from_millis(250)); // the request is out, its answer 750 ms away
    let pid = fork_child(|| {
        let answers = [plan(&client, "u2"), plan(&client, "u1"), plan(&client, "u4"), plan(&client, "u2")];
        let expected = ["plan-of-u2", "plan-of-u1", "plan-of-u4", "plan-of-u2"];
        if answers != expected {
            eprintln!("child: got {answers:?}, expected {expected:?}");
        }
        answers == expected
    });
    assert_eq!(slow.join().unwrap(), "plan-of-u2", "the parent's in-flight lookup");
    assert_eq!(plan(&client, "u3"), "plan-of-u3");
    assert_eq!(wait_child(pid), 0, "the child's lookups (see its stderr)");
    assert_eq!(requests_for(&col, "u1"), 1, "the child answers u1 from the cache it inherited");
    assert_eq!(requests_for(&col, "u2"), 2, "one request from each process");

    // 2. A keep-alive connection idle at fork time. The child sends its lookup first and the
    //    collector holds that answer back; the parent then sends its own. Were the socket shared,
    //    both requests would travel on it, and the first answer (the child's, for u2) would be read
    //    by the parent (the child is gone by then) and taken as u3's.
    let (col, client) = setup();
    assert_eq!(plan(&client, "u1"), "plan-of-u1"); // leaves one idle connection in the pool
    col.script_profiles(vec![Step::Status { code: 200, retry_after: None, delay_ms: 1000 }]);
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let pid = fork_child(|| {
        unsafe { libc::write(fds[1], b"!".as_ptr().cast(), 1) };
        plan(&client, "u2") == "plan-of-u2"
    });
    let mut poll = libc::pollfd { fd: fds[0], events: libc::POLLIN, revents: 0 };
    assert_eq!(unsafe { libc::poll(&mut poll, 1, 10_000) }, 1, "the child did not start");
    std::thread::sleep(Duration::from_millis(150)); // the child's request is out
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(250));
        unsafe { libc::kill(pid, libc::SIGKILL) };
        wait_child(pid)
    });
    assert_eq!(plan(&client, "u3"), "plan-of-u3", "the parent must read its own answer");
    killer.join().unwrap();
    assert_eq!(plan(&client, "u2"), "plan-of-u2");
    assert_eq!(plan(&client, "u3"), "plan-of-u3", "and cache it under its own identifier");
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
}
