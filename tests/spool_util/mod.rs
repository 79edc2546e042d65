//! Helpers shared by the spool tests (tests/spool*.rs): temporary directories, what is on disk,
//! who was delivered how often.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// A fresh directory under the system's temporary directory (removed by `Drop`).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("flagwire-{name}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn str(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The collector's config with a spool in `dir`; `spool_extra` adds keys of the `spool` object.
pub fn spool_config(endpoint: &str, dir: &TempDir, extra: Value, spool_extra: Value) -> Value {
    let mut spool = json!({"dir": dir.str(), "sync": "never"});
    for (k, v) in spool_extra.as_object().unwrap() {
        spool[k] = v.clone();
    }
    let mut c = config(endpoint, extra);
    c["spool"] = spool;
    c
}

/// A 127.0.0.1 port nobody listens on (refused connections: a receiver that is down).
pub fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A collector on `port` (to bring a receiver back where clients already point).
pub fn collector_on(port: u16, latency_ms: u64) -> Collector {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Collector::start(CollectorOptions { port, write_keys: vec![WRITE_KEY.into()], latency_ms, ..Default::default() }) {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                eprintln!("port {port} not free yet: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot listen on {port}: {e}"),
        }
    }
}

/// Spool batch files under `dir`, subdirectories included, sorted by path.
pub fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(spool_files(&p));
        } else if p.file_name().unwrap().to_string_lossy().starts_with('b') && p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The messages in a spool file (it is a `/v1/batch` body).
pub fn file_messages(path: &Path) -> Vec<Value> {
    let body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    body["batch"].as_array().unwrap().clone()
}

/// userId -> the messageIds it was delivered with (one entry per delivery).
pub fn deliveries(messages: &[Value]) -> HashMap<String, Vec<String>> {
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    for m in messages {
        by_user.entry(m["userId"].as_str().unwrap_or_default().to_string()).or_default().push(m["messageId"].as_str().unwrap_or_default().to_string());
    }
    by_user
}

/// Every user was delivered with one messageId only (repeats carry the same one); returns how
/// many deliveries were repeats.
pub fn assert_repeats_share_message_ids(by_user: &HashMap<String, Vec<String>>) -> usize {
    let mut repeats = 0;
    for (user, ids) in by_user {
        assert!(ids.iter().all(|id| id == &ids[0]), "{user} delivered with different messageIds: {ids:?}");
        repeats += ids.len() - 1;
    }
    repeats
}

/// Waits (bounded) until `done(stats)` holds; returns the last stats.
pub fn wait_stats(client: &TestClient, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let stats = client.stats();
        if done(&stats) || Instant::now() >= deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Counts by key.
pub fn histogram<K: Ord>(items: impl IntoIterator<Item = K>) -> BTreeMap<K, usize> {
    let mut h = BTreeMap::new();
    for k in items {
        *h.entry(k).or_insert(0) += 1;
    }
    h
}

/// Offers one exposure for user `user` until it is accepted (bounded); the status it ended on.
pub fn offer(client: &TestClient, user: &str) -> Status {
    client.flag(user, "checkout_flow", Some("checkout_ab"), Some("treatment"), true, 1, None)
}
