//! Helpers shared by the collector's HTTP tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

/// A parsed HTTP response.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad JSON {e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// `Authorization` value for a write key or access token: Basic base64("<key>:").
pub fn basic(key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")))
}

/// A ureq agent that returns non-2xx responses instead of errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(10))).build().into()
}

/// Starts the collector binary with `args`; returns the child, its stdout (past the first line)
/// and the port from that first line (`http://127.0.0.1:PORT`).
pub fn spawn_binary(args: &[&str]) -> (Child, BufReader<ChildStdout>, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flagwire-collector"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let port: u16 = first.trim_end().rsplit(':').next().unwrap().parse().unwrap();
    (child, out, port)
}

/// A ureq agent that neither follows redirects nor errors on non-2xx responses.
pub fn agent_no_redirects() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// The parts of a ureq response the tests look at.
pub fn from_ureq(mut r: ureq::http::Response<ureq::Body>) -> Resp {
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    Resp { status: r.status().as_u16(), headers, body: r.body_mut().read_to_vec().unwrap() }
}

/// POST `body` as JSON to `base` + `path` with Basic auth for write key `key`, over ureq.
pub fn ureq_post(a: &ureq::Agent, base: &str, path: &str, body: &[u8]) -> Resp {
    let r = a
        .post(format!("{base}{path}"))
        .header("Authorization", &basic("key"))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    from_ureq(r)
}

/// GET `base` + `path` over ureq.
pub fn ureq_get(a: &ureq::Agent, base: &str, path: &str) -> Resp {
    from_ureq(a.get(format!("{base}{path}")).call().unwrap())
}
