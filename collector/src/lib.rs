//! Segment-compatible test collector.
//!
//! A small HTTP/1.1 server on 127.0.0.1 that speaks the parts of Segment's Tracking API that
//! flagwire's clients use (`/v1/batch`, `/v1/import`, the single-message paths), records every
//! request and every accepted message, and can be scripted to fail (status codes with
//! `Retry-After`, delays, dropped connections, hung requests).
//!
//! It is built on `std::net` directly (one thread per connection) so that it has full control of
//! the socket: a scripted `Drop` closes the TCP connection without any response, a `Hang` holds it
//! open until the collector stops, and stopping closes the listener and every open connection.
//!
//! It also serves Segment's Profile API (`GET /v1/spaces/{space}/collections/users/profiles/
//! {identifier}/{traits|external_ids|links}`) from fixture profiles, with its own fault script
//! and request log; see [`Collector::set_profiles`] and the order of checks documented at the
//! top of `src/profile.rs`.
//!
//! Tests in other languages use the binary (`flagwire-collector --port 0 --quiet`) and the JSON
//! control routes under `/_test/`.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// Largest decoded body accepted on `/v1/batch` and `/v1/import` (Segment: 500KB).
pub const MAX_BATCH_BYTES: usize = 500_000;
/// Largest decoded body on a single-message path, and largest compact message in a batch (32KB).
pub const MAX_MESSAGE_BYTES: usize = 32_000;
/// More messages than this in one batch: answered 200, nothing accepted (Segment's behaviour).
pub const MAX_BATCH_MESSAGES: usize = 2500;

/// Raw (possibly gzip'd) bodies larger than this are refused without being read.
const MAX_RAW_BODY: usize = 64 << 20;
/// Decoding stops here (gzip bombs); anything this large is over every limit anyway.
const MAX_DECODED_BODY: usize = 64 << 20;
/// Request line plus headers.
const MAX_HEAD_BYTES: usize = 64 << 10;
/// Upper bound of one `/_test/wait`.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// Lines queued for the printer thread before lines are skipped.
const PRINT_QUEUE: usize = 8192;

const MESSAGE_TYPES: [&str; 6] = ["track", "identify", "page", "screen", "group", "alias"];

mod profile;
mod strict_json;
use profile::Fixture;
pub use profile::{
    ProfileRequest, DEFAULT_CREATED_AT, DEFAULT_SOURCE_ID, EXTERNAL_IDS_LIMIT, FIRST_MESSAGE_ID,
    LINKS_LIMIT, TRAITS_LIMIT,
};

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// How to start a [`Collector`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectorOptions {
    /// Port on 127.0.0.1; 0 picks an ephemeral port.
    pub port: u16,
    /// Accepted write keys; empty means any non-empty key is accepted.
    pub write_keys: Vec<String>,
    /// Print one human-readable line per accepted message to stdout (never blocks requests).
    pub print: bool,
    /// Every Segment `/v1/*` request is answered only after this many milliseconds (plus
    /// jitter), standing in for the internet; see [`Collector::set_latency`].
    pub latency_ms: u64,
    /// Upper bound of a uniform random extra delay in `[0, jitter_ms]`, drawn per request.
    pub jitter_ms: u64,
    /// Accept messages that strict Segment-compatible receivers refuse with 400: numbers outside
    /// the f64 range, lone UTF-16 surrogate escapes, duplicate object keys (default: refuse the
    /// whole request, naming the problem). Single-message paths (`/v1/track`, ...) build a
    /// serde_json `Value`, which cannot hold the first two, so those stay refused there.
    pub lenient_json: bool,
}

/// One request to `/v1/*` as the collector saw it, including refused and scripted ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Path without the query string, e.g. `/v1/batch`.
    pub path: String,
    /// Status we answered; 0 when the connection was dropped or hung.
    pub status: u16,
    /// `X-Retry-Count` header.
    pub retry_count: Option<String>,
    /// `Content-Encoding` header.
    pub content_encoding: Option<String>,
    /// The write key (Basic header or body `writeKey`) was acceptable.
    pub authorization_ok: bool,
    /// Body length as received (compressed size when gzip'd).
    pub body_bytes: usize,
    /// Body length after decoding (0 when it could not be decoded).
    pub decoded_bytes: usize,
    /// `messageId` of every message in the body (in order; absent ones skipped).
    pub message_ids: Vec<String>,
    /// Batch-level `sentAt` (or the message's `sentAt` on single-message paths).
    pub sent_at: Option<String>,
    /// When the request was received (body read), unix milliseconds.
    pub received_at_ms: u64,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
}

/// One step of a FIFO fault script: the `/v1/*` script ([`Collector::script`], consumed by each
/// `POST /v1/*` request) or the separate Profile API script ([`Collector::script_profiles`],
/// consumed by each `GET /v1/spaces/...`). A non-2xx status on a Profile API request is answered
/// `{"error":{"code":"rate_limit_error"|"server_error"|...,"message":"scripted status N"}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Sleep `delay_ms`, then: a 2xx `code` processes the request normally (and answers `code`
    /// when processing succeeds); any other code is answered as is (with `Retry-After` when
    /// given) and nothing is accepted.
    Status {
        code: u16,
        retry_after: Option<String>,
        delay_ms: u64,
    },
    /// Answer `code` (3xx) with a `Location: location` header; nothing is accepted.
    Redirect { code: u16, location: String },
    /// Read the request, then close the connection without any response.
    Drop,
    /// Never answer; hold the connection open until the collector stops.
    Hang,
}

impl Step {
    /// `Status { code, retry_after: None, delay_ms: 0 }`.
    pub fn status(code: u16) -> Step {
        Step::Status {
            code,
            retry_after: None,
            delay_ms: 0,
        }
    }

    /// JSON form: `{"status":503}`, `{"status":429,"retry_after":"1"}`,
    /// `{"status":200,"delay_ms":500}`, `{"redirect":307,"location":"http://..."}`,
    /// `{"drop":true}`, `{"hang":true}`.
    pub fn to_json(&self) -> Value {
        match self {
            Step::Status {
                code,
                retry_after,
                delay_ms,
            } => {
                let mut m = Map::new();
                m.insert("status".into(), json!(code));
                if let Some(ra) = retry_after {
                    m.insert("retry_after".into(), json!(ra));
                }
                if *delay_ms > 0 {
                    m.insert("delay_ms".into(), json!(delay_ms));
                }
                Value::Object(m)
            }
            Step::Redirect { code, location } => json!({"redirect": code, "location": location}),
            Step::Drop => json!({"drop": true}),
            Step::Hang => json!({"hang": true}),
        }
    }

    /// Inverse of [`Step::to_json`]. `retry_after` may also be a number; `delay_ms` defaults to 0.
    pub fn from_json(v: &Value) -> Result<Step, String> {
        let o = v
            .as_object()
            .ok_or_else(|| format!("step is not an object: {v}"))?;
        if o.get("drop").and_then(Value::as_bool) == Some(true) {
            return Ok(Step::Drop);
        }
        if o.get("hang").and_then(Value::as_bool) == Some(true) {
            return Ok(Step::Hang);
        }
        if let Some(r) = o.get("redirect") {
            let code = r
                .as_u64()
                .filter(|c| (300..=399).contains(c))
                .ok_or_else(|| format!("step redirect must be an integer 300..=399: {v}"))?
                as u16;
            let location = o
                .get("location")
                .and_then(Value::as_str)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| format!("step redirect needs a non-empty \"location\": {v}"))?;
            return Ok(Step::Redirect {
                code,
                location: location.to_owned(),
            });
        }
        let code = match o.get("status") {
            Some(s) => s
                .as_u64()
                .filter(|c| (100..=999).contains(c))
                .ok_or_else(|| format!("step status must be an integer 100..=999: {v}"))?
                as u16,
            None => {
                return Err(format!(
                    "step needs \"status\", \"redirect\", \"drop\":true or \"hang\":true: {v}"
                ))
            }
        };
        let retry_after = match o.get("retry_after") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(format!(
                    "step retry_after must be a string or number: {other}"
                ))
            }
        };
        let delay_ms = match o.get("delay_ms") {
            None | Some(Value::Null) => 0,
            Some(d) => d
                .as_u64()
                .ok_or_else(|| format!("step delay_ms must be a non-negative integer: {v}"))?,
        };
        Ok(Step::Status {
            code,
            retry_after,
            delay_ms,
        })
    }
}

impl RequestRecord {
    /// JSON object with the field names as keys (snake_case); absent options are `null`.
    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path,
            "status": self.status,
            "retry_count": self.retry_count,
            "content_encoding": self.content_encoding,
            "authorization_ok": self.authorization_ok,
            "body_bytes": self.body_bytes,
            "decoded_bytes": self.decoded_bytes,
            "message_ids": self.message_ids,
            "sent_at": self.sent_at,
            "received_at_ms": self.received_at_ms,
            "user_agent": self.user_agent,
        })
    }

    /// Inverse of [`RequestRecord::to_json`]; missing fields take their zero value.
    pub fn from_json(v: &Value) -> Result<RequestRecord, String> {
        let o = v
            .as_object()
            .ok_or_else(|| format!("request record is not an object: {v}"))?;
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        let n = |k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
        Ok(RequestRecord {
            path: s("path").unwrap_or_default(),
            status: n("status") as u16,
            retry_count: s("retry_count"),
            content_encoding: s("content_encoding"),
            authorization_ok: o
                .get("authorization_ok")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            body_bytes: n("body_bytes") as usize,
            decoded_bytes: n("decoded_bytes") as usize,
            message_ids: o
                .get("message_ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            sent_at: s("sent_at"),
            received_at_ms: n("received_at_ms"),
            user_agent: s("user_agent"),
        })
    }
}

/// A running collector. Dropping it stops the server.
pub struct Collector {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Binds 127.0.0.1:`opts.port` and starts serving.
    pub fn start(opts: CollectorOptions) -> io::Result<Collector> {
        let listener = TcpListener::bind(("127.0.0.1", opts.port))?;
        let addr = listener.local_addr()?;
        let printer = if opts.print {
            Some(Printer::spawn()?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            write_keys: opts.write_keys,
            lenient_json: opts.lenient_json,
            latency: Mutex::new(Latency {
                fixed: Duration::from_millis(opts.latency_ms),
                jitter: Duration::from_millis(opts.jitter_ms),
            }),
            in_flight: AtomicUsize::new(0),
            max_concurrent: AtomicUsize::new(0),
            data: Mutex::new(Data::default()),
            data_cv: Condvar::new(),
            script: Mutex::new(VecDeque::new()),
            profiles: Mutex::new(Arc::new(Fixture::default())),
            profile_script: Mutex::new(VecDeque::new()),
            profile_requests: Mutex::new(Vec::new()),
            profile_request_seq: AtomicU64::new(1),
            stopped: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_cv: Condvar::new(),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            printer,
        });
        let s = shared.clone();
        let accept_thread = thread::Builder::new()
            .name(format!("collector-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, s))?;
        Ok(Collector {
            shared,
            addr,
            accept_thread: Some(accept_thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every accepted message, in arrival order, duplicates kept.
    pub fn messages(&self) -> Vec<Value> {
        let d = self.shared.data();
        d.messages
            .iter()
            .map(|m| serde_json::from_str(m).unwrap_or(Value::Null))
            .collect()
    }

    /// Number of accepted messages (cheap; for benchmarks).
    pub fn message_count(&self) -> usize {
        self.shared.data().messages.len()
    }

    /// Every request to `/v1/*`, including refused and scripted ones, in order of completion
    /// (dropped and hung requests are recorded when they arrive).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.data().requests.clone()
    }

    /// Appends steps to the FIFO fault script.
    pub fn script(&self, steps: Vec<Step>) {
        lock(&self.shared.script).extend(steps);
    }

    /// Steps not yet consumed.
    pub fn pending_script(&self) -> Vec<Step> {
        lock(&self.shared.script).iter().cloned().collect()
    }

    /// Clears messages, requests and the script, and the profile requests and the profile
    /// script; `max_concurrent` restarts from the requests in flight. The profile fixture and
    /// the latency are kept (replace them with [`Collector::set_profiles`] and
    /// [`Collector::set_latency`]).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Replaces the Profile API fixture (validated first; on error the old one stays).
    ///
    /// ```json
    /// {"space_id":"spa_test","access_token":"tok_test",
    ///  "profiles":[{"external_ids":[{"type":"user_id","id":"u1","created_at":"2024-01-01T00:00:00Z"}],
    ///               "traits":{"plan":"pro"},
    ///               "links":[{"type":"group_id","id":"acme"}]}]}
    /// ```
    /// `space_id` / `access_token` absent: any space / any non-empty token. `created_at`
    /// defaults to [`DEFAULT_CREATED_AT`], `source_id` to [`DEFAULT_SOURCE_ID`], a link's `type`
    /// to `group_id`. Unknown keys, empty `external_ids`, an id type containing `:` and an
    /// external id used twice are errors. Traits are served in the iteration order of the
    /// given `Value`'s map (sorted by key unless serde_json's `preserve_order` is on); use
    /// [`Collector::set_profiles_json`] to keep a document's key order.
    pub fn set_profiles(&self, fixture: Value) -> Result<(), String> {
        self.set_profiles_json(&fixture.to_string()).map(|_| ())
    }

    /// [`Collector::set_profiles`] from JSON text; traits keep the document's key order.
    /// Returns the number of profiles.
    pub fn set_profiles_json(&self, text: &str) -> Result<usize, String> {
        let fx = Fixture::parse(text)?;
        let n = fx.len();
        *lock(&self.shared.profiles) = Arc::new(fx);
        Ok(n)
    }

    /// Appends steps to the Profile API fault script (separate from [`Collector::script`]);
    /// each Profile API GET consumes one.
    pub fn script_profiles(&self, steps: Vec<Step>) {
        lock(&self.shared.profile_script).extend(steps);
    }

    /// Profile script steps not yet consumed.
    pub fn pending_profile_script(&self) -> Vec<Step> {
        lock(&self.shared.profile_script).iter().cloned().collect()
    }

    /// Every Profile API request (anything under `/v1/spaces/`), in order of completion
    /// (dropped and hung ones when they arrive).
    pub fn profile_requests(&self) -> Vec<ProfileRequest> {
        lock(&self.shared.profile_requests).clone()
    }

    /// Segment `/v1/*` requests being handled right now (from arrival until the answer is
    /// written; a hung request until the collector stops).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// The most Segment `/v1/*` requests handled at once since start or [`Collector::reset`].
    pub fn max_concurrent(&self) -> usize {
        self.shared.max_concurrent.load(Ordering::SeqCst)
    }

    /// Every Segment `/v1/*` request (not `/_test/*`, not the Profile API) is answered only after
    /// `latency` plus a uniform random `[0, jitter]` drawn per request, counted from when its
    /// body was read; requests on different connections wait in parallel. The delay comes before
    /// any scripted `delay_ms` and is cut short when the collector stops (the connection is then
    /// closed without an answer). Kept by [`Collector::reset`].
    pub fn set_latency(&self, latency: Duration, jitter: Duration) {
        *lock(&self.shared.latency) = Latency {
            fixed: latency,
            jitter,
        };
    }

    /// `(latency, jitter)` as set by [`CollectorOptions`] or [`Collector::set_latency`].
    pub fn latency(&self) -> (Duration, Duration) {
        let l = *lock(&self.shared.latency);
        (l.fixed, l.jitter)
    }

    /// Waits (bounded by `timeout`) until at least `n` messages were accepted.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_for(n, timeout).0
    }

    /// Stops the server: closes the listener and every open connection (hung requests included).
    pub fn stop(self) {
        drop(self)
    }

    fn shutdown(&mut self) {
        {
            let conns = lock(&self.shared.conns);
            self.shared.stopped.store(true, Ordering::SeqCst);
            for c in conns.values() {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
        {
            let _g = lock(&self.shared.stop_lock);
            self.shared.stop_cv.notify_all();
        }
        {
            let _g = self.shared.data();
            self.shared.data_cv.notify_all();
        }
        // Wake the accept thread so that it sees `stopped` and drops the listener.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok();
        if let Some(t) = self.accept_thread.take() {
            if woke {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("url", &self.url())
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Data {
    /// Accepted messages, compact JSON.
    messages: Vec<Arc<str>>,
    requests: Vec<RequestRecord>,
}

/// Simulated network delay of Segment requests.
#[derive(Clone, Copy)]
struct Latency {
    fixed: Duration,
    jitter: Duration,
}

impl Latency {
    /// `fixed` plus a uniform draw from `[0, jitter]` (microsecond steps).
    fn draw(self) -> Duration {
        let jitter_us = self.jitter.as_micros().min(u64::MAX as u128) as u64;
        let extra = if jitter_us == 0 {
            0
        } else {
            fastrand::u64(0..=jitter_us)
        };
        self.fixed + Duration::from_micros(extra)
    }
}

struct Shared {
    write_keys: Vec<String>,
    /// See [`CollectorOptions::lenient_json`].
    lenient_json: bool,
    latency: Mutex<Latency>,
    /// Segment requests being handled now, and the most at once since start or reset.
    in_flight: AtomicUsize,
    max_concurrent: AtomicUsize,
    data: Mutex<Data>,
    data_cv: Condvar,
    script: Mutex<VecDeque<Step>>,
    /// Profile API fixture (replaced whole; handlers clone the Arc).
    profiles: Mutex<Arc<Fixture>>,
    profile_script: Mutex<VecDeque<Step>>,
    profile_requests: Mutex<Vec<ProfileRequest>>,
    /// `Request-Id` header of Profile API answers.
    profile_request_seq: AtomicU64,
    stopped: AtomicBool,
    stop_lock: Mutex<()>,
    stop_cv: Condvar,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    printer: Option<Printer>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn reset(&self) {
        {
            let mut d = self.data();
            d.messages.clear();
            d.requests.clear();
        }
        lock(&self.script).clear();
        lock(&self.profile_script).clear();
        lock(&self.profile_requests).clear();
        // Requests still being handled stay counted.
        self.max_concurrent
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn commit_profile(&self, rec: ProfileRequest) {
        lock(&self.profile_requests).push(rec);
    }

    fn key_ok(&self, key: &str) -> bool {
        !key.is_empty() && (self.write_keys.is_empty() || self.write_keys.iter().any(|k| k == key))
    }

    /// Records a request and the messages it got accepted, atomically.
    fn commit(&self, rec: RequestRecord, accepted: Vec<Arc<str>>) {
        let any = !accepted.is_empty();
        let printed = if any && self.printer.is_some() {
            accepted.clone()
        } else {
            Vec::new()
        };
        {
            let mut d = self.data();
            d.requests.push(rec);
            d.messages.extend(accepted);
        }
        if any {
            self.data_cv.notify_all();
        }
        if let Some(p) = &self.printer {
            for m in printed {
                p.send(m);
            }
        }
    }

    /// Waits until at least `n` messages; returns (reached, count).
    fn wait_for(&self, n: usize, timeout: Duration) -> (bool, usize) {
        let deadline = Instant::now() + timeout.min(MAX_WAIT);
        let mut d = self.data();
        loop {
            let count = d.messages.len();
            if count >= n {
                return (true, count);
            }
            let now = Instant::now();
            if now >= deadline || self.stopped() {
                return (false, count);
            }
            d = self
                .data_cv
                .wait_timeout(d, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Sleeps up to `ms`, waking early when the collector stops.
    fn sleep(&self, ms: u64) {
        self.sleep_for(Duration::from_millis(ms));
    }

    /// Sleeps up to `d`, waking early when the collector stops.
    fn sleep_for(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        let deadline = Instant::now() + d;
        let mut g = lock(&self.stop_lock);
        loop {
            let now = Instant::now();
            if now >= deadline || self.stopped() {
                return;
            }
            g = self
                .stop_cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Blocks until the collector stops.
    fn wait_stopped(&self) {
        let mut g = lock(&self.stop_lock);
        while !self.stopped() {
            g = self.stop_cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Printer: a thread fed by a bounded channel; request handling only ever try_sends.
// ---------------------------------------------------------------------------------------------

struct Printer {
    tx: SyncSender<Arc<str>>,
    skipped: Arc<AtomicU64>,
}

impl Printer {
    fn spawn() -> io::Result<Printer> {
        let (tx, rx) = sync_channel::<Arc<str>>(PRINT_QUEUE);
        let skipped = Arc::new(AtomicU64::new(0));
        let sk = skipped.clone();
        thread::Builder::new()
            .name("collector-printer".into())
            .spawn(move || printer_loop(rx, sk))?;
        Ok(Printer { tx, skipped })
    }

    fn send(&self, m: Arc<str>) {
        match self.tx.try_send(m) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn printer_loop(rx: Receiver<Arc<str>>, skipped: Arc<AtomicU64>) {
    let stdout = io::stdout();
    let report_skipped = |out: &mut dyn Write| {
        let n = skipped.swap(0, Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(out, "... {n} events not printed");
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(first) => {
                let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
                let _ = writeln!(out, "{}", format_line(&first));
                let mut n = 1;
                while n < 4096 {
                    match rx.try_recv() {
                        Ok(m) => {
                            let _ = writeln!(out, "{}", format_line(&m));
                            n += 1;
                        }
                        Err(_) => break,
                    }
                }
                report_skipped(&mut out);
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Timeout) => {
                let mut out = stdout.lock();
                report_skipped(&mut out);
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Disconnected) => {
                let mut out = stdout.lock();
                report_skipped(&mut out);
                let _ = out.flush();
                return;
            }
        }
    }
}

/// `track  "Experiment Viewed"  userId=user-42  checkout_flow/checkout_ab -> treatment`
pub fn format_line(raw: &str) -> String {
    let v: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(_) => return raw.to_owned(),
    };
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("?");
    let mut line = ty.to_owned();
    let name = match ty {
        "track" => v.get("event"),
        "page" | "screen" => v.get("name"),
        "group" => v.get("groupId"),
        "alias" => v.get("previousId"),
        _ => None,
    };
    if let Some(n) = name.filter(|n| !n.is_null()) {
        line.push_str("  ");
        line.push_str(&n.to_string());
    }
    let id = |k: &str| {
        v.get(k).filter(|x| !x.is_null()).map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    if let Some(u) = id("userId") {
        line.push_str(&format!("  userId={u}"));
    } else if let Some(a) = id("anonymousId") {
        line.push_str(&format!("  anonymousId={a}"));
    }
    let props = v
        .get("properties")
        .or_else(|| v.get("traits"))
        .and_then(Value::as_object);
    let ps = |p: &Map<String, Value>, k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    let summary = match props {
        Some(p) if ps(p, "flagKey").is_some() || ps(p, "variationKey").is_some() => {
            let flag = ps(p, "flagKey").unwrap_or_else(|| "?".into());
            let var = ps(p, "variationKey").unwrap_or_else(|| "?".into());
            match ps(p, "ruleKey") {
                Some(rule) => format!("{flag}/{rule} -> {var}"),
                None => format!("{flag} -> {var}"),
            }
        }
        Some(p) if ps(p, "experiment_name").is_some() || ps(p, "variation_name").is_some() => {
            format!(
                "{} -> {}",
                ps(p, "experiment_name").unwrap_or_else(|| "?".into()),
                ps(p, "variation_name").unwrap_or_else(|| "?".into())
            )
        }
        Some(p) if !p.is_empty() => Value::Object(p.clone()).to_string(),
        _ => raw.to_owned(),
    };
    line.push_str("  ");
    line.push_str(&truncate(&summary, 400));
    line
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

// ---------------------------------------------------------------------------------------------
// Server: accept loop and connections
// ---------------------------------------------------------------------------------------------

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopped() {
            break;
        }
        match conn {
            Ok(stream) => {
                let s = shared.clone();
                // A failed spawn drops (closes) the stream; the client sees a connection error.
                let _ = thread::Builder::new()
                    .name("collector-conn".into())
                    .spawn(move || serve_connection(s, stream));
            }
            Err(_) => {
                // EMFILE and friends: back off briefly instead of spinning.
                thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// One Segment request being handled: raises `in_flight` (and `max_concurrent`) while alive.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_concurrent.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Removes a connection from the registry when its thread ends.
struct ConnGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.conns).remove(&self.id);
    }
}

fn serve_connection(shared: Arc<Shared>, stream: TcpStream) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    {
        let mut conns = lock(&shared.conns);
        if shared.stopped() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        match stream.try_clone() {
            Ok(c) => {
                conns.insert(id, c);
            }
            Err(_) => return,
        }
    }
    let _guard = ConnGuard {
        shared: &shared,
        id,
    };
    let _ = stream.set_nodelay(true);
    let mut reader = match stream.try_clone() {
        Ok(r) => BufReader::with_capacity(64 << 10, r),
        Err(_) => return,
    };
    let mut writer = stream;
    loop {
        let req = match read_request(&mut reader, &mut writer) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(ReadError::Bad(status, msg)) => {
                let resp = Resp::error(status, &msg).closing();
                let _ = write_response(&mut writer, &resp, false);
                break;
            }
            Err(ReadError::Io) => break,
        };
        let keep_alive = req.keep_alive;
        let http10 = req.http10;
        // Counts a Segment request from its arrival until its answer is written (or its hang
        // ends).
        let _in_flight = (route(&req.path) == Route::Segment).then(|| InFlight::enter(&shared));
        match handle(&shared, req) {
            Outcome::Respond(mut resp) => {
                if !keep_alive || shared.stopped() {
                    resp.close = true;
                }
                if write_response(&mut writer, &resp, http10).is_err() || resp.close {
                    let _ = writer.shutdown(Shutdown::Write);
                    break;
                }
            }
            Outcome::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                break;
            }
            Outcome::Hang => {
                shared.wait_stopped();
                let _ = writer.shutdown(Shutdown::Both);
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 parsing and writing
// ---------------------------------------------------------------------------------------------

struct HttpRequest {
    method: String,
    path: String,
    query: String,
    http10: bool,
    keep_alive: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| {
            let mut it = kv.splitn(2, '=');
            (it.next() == Some(name)).then(|| it.next().unwrap_or(""))
        })
    }
}

enum ReadError {
    /// Malformed request: answer this status and close.
    Bad(u16, String),
    /// The connection failed or closed mid-request: just close.
    Io,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads one line (without CRLF) into `buf`; Ok(false) on EOF before any byte.
fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    budget: &mut usize,
) -> Result<bool, ReadError> {
    buf.clear();
    let n = r.by_ref().take(*budget as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') {
        if n > *budget {
            return Err(ReadError::Bad(431, "request head too large".into()));
        }
        return Err(ReadError::Io);
    }
    *budget -= n;
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(true)
}

fn read_request<R: BufRead>(
    r: &mut R,
    w: &mut TcpStream,
) -> Result<Option<HttpRequest>, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut line = Vec::with_capacity(256);
    // Request line (skipping stray empty lines between requests).
    loop {
        if !read_line(r, &mut line, &mut budget)? {
            return Ok(None);
        }
        if !line.is_empty() {
            break;
        }
    }
    let request_line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = request_line.split_whitespace();
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m.to_owned(), t.to_owned(), v.to_owned()),
        _ => return Err(ReadError::Bad(400, "malformed request line".into())),
    };
    let http10 = match version.as_str() {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => {
            return Err(ReadError::Bad(
                505,
                "only HTTP/1.0 and HTTP/1.1 are supported".into(),
            ))
        }
    };
    let mut headers = Vec::new();
    loop {
        if !read_line(r, &mut line, &mut budget)? {
            return Err(ReadError::Io);
        }
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let (k, v) = text
            .split_once(':')
            .ok_or_else(|| ReadError::Bad(400, "malformed header".into()))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let connection = get("connection")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let chunked = get("transfer-encoding")
        .map(|te| te.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let content_length = match get("content-length") {
        Some(cl) if !chunked => Some(
            cl.parse::<usize>()
                .map_err(|_| ReadError::Bad(400, "invalid content-length".into()))?,
        ),
        _ => None,
    };
    if let Some(cl) = content_length {
        if cl > MAX_RAW_BODY {
            return Err(ReadError::Bad(400, format!("body too large ({cl} bytes)")));
        }
    }
    let has_body = chunked || content_length.unwrap_or(0) > 0;
    if has_body
        && !http10
        && get("expect")
            .map(|e| e.eq_ignore_ascii_case("100-continue"))
            .unwrap_or(false)
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(cl) = content_length {
        let mut body = vec![0u8; cl];
        r.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    Ok(Some(HttpRequest {
        method,
        path,
        query,
        http10,
        keep_alive,
        headers,
        body,
    }))
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        let mut budget = 4096;
        if !read_line(r, &mut line, &mut budget)? {
            return Err(ReadError::Io);
        }
        let text = String::from_utf8_lossy(&line);
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Bad(400, "malformed chunk size".into()))?;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                let mut budget = MAX_HEAD_BYTES;
                if !read_line(r, &mut line, &mut budget)? || line.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_RAW_BODY {
            return Err(ReadError::Bad(400, "body too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut budget = 2;
        if !read_line(r, &mut line, &mut budget)? || !line.is_empty() {
            return Err(ReadError::Bad(400, "malformed chunk".into()));
        }
    }
}

struct Resp {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    close: bool,
}

impl Resp {
    fn json(status: u16, v: &Value) -> Resp {
        Resp {
            status,
            body: v.to_string().into_bytes(),
            headers: Vec::new(),
            close: false,
        }
    }

    fn raw_json(status: u16, body: Vec<u8>) -> Resp {
        Resp {
            status,
            body,
            headers: Vec::new(),
            close: false,
        }
    }

    fn success(status: u16) -> Resp {
        Resp::raw_json(status, br#"{"success":true}"#.to_vec())
    }

    fn error(status: u16, reason: &str) -> Resp {
        Resp::json(status, &json!({"success": false, "error": reason}))
    }

    fn closing(mut self) -> Resp {
        self.close = true;
        self
    }
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        460 => "Client Closed Request",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        511 => "Network Authentication Required",
        _ => "Status",
    }
}

fn write_response(w: &mut TcpStream, resp: &Resp, http10: bool) -> io::Result<()> {
    // 1xx, 204 and 304 carry no body.
    let bodyless = resp.status < 200 || resp.status == 204 || resp.status == 304;
    let body: &[u8] = if bodyless { &[] } else { &resp.body };
    let mut out = Vec::with_capacity(192 + body.len());
    write!(
        out,
        "HTTP/1.1 {} {}\r\n",
        resp.status,
        reason_phrase(resp.status)
    )?;
    if !bodyless {
        write!(
            out,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )?;
    }
    for (k, v) in &resp.headers {
        write!(out, "{k}: {v}\r\n")?;
    }
    if resp.close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    w.write_all(&out)?;
    w.flush()
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

enum Outcome {
    Respond(Resp),
    Drop,
    Hang,
}

/// Which part of the collector answers a path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Control,
    Profile,
    Segment,
    NotFound,
}

fn route(path: &str) -> Route {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/_test") {
        Route::Control
    } else if under("/v1/spaces") {
        Route::Profile
    } else if under("/v1") {
        Route::Segment
    } else {
        Route::NotFound
    }
}

fn handle(shared: &Shared, req: HttpRequest) -> Outcome {
    match route(&req.path) {
        Route::Control => Outcome::Respond(control(shared, &req)),
        Route::Profile => profile::handle(shared, req),
        Route::Segment => segment(shared, req),
        Route::NotFound => Outcome::Respond(Resp::error(404, "not found")),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Batch,
    Single(&'static str),
}

fn endpoint(path: &str) -> Option<Endpoint> {
    let rest = path.strip_prefix("/v1/")?.trim_end_matches('/');
    match rest {
        "batch" | "import" => Some(Endpoint::Batch),
        other => MESSAGE_TYPES
            .iter()
            .find(|t| **t == other)
            .map(|t| Endpoint::Single(t)),
    }
}

/// Write key from `Authorization: Basic base64("<key>:")` (a missing colon is tolerated).
fn basic_key(header: Option<&str>) -> Option<String> {
    let h = header?.trim();
    let (scheme, cred) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some(match text.split_once(':') {
        Some((k, _)) => k.to_owned(),
        None => text,
    })
}

fn decode_body<'a>(body: &'a [u8], encoding: Option<&str>) -> Result<Cow<'a, [u8]>, String> {
    let enc = encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match enc.as_str() {
        "" | "identity" => Ok(Cow::Borrowed(body)),
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(8).min(1 << 20));
            flate2::read::MultiGzDecoder::new(body)
                .take(MAX_DECODED_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("invalid gzip body: {e}"))?;
            if out.len() > MAX_DECODED_BODY {
                return Err("decoded body too large".into());
            }
            Ok(Cow::Owned(out))
        }
        other => Err(format!("unsupported content-encoding: {other}")),
    }
}

/// The fields of a message that are validated or recorded; everything else is skipped without
/// being materialised (the batch fast path never builds a full `Value` tree).
#[derive(Deserialize, Default)]
struct View {
    #[serde(rename = "type")]
    ty: Option<Value>,
    #[serde(rename = "userId")]
    user_id: Option<Value>,
    #[serde(rename = "anonymousId")]
    anonymous_id: Option<Value>,
    event: Option<Value>,
    #[serde(rename = "messageId")]
    message_id: Option<Value>,
    #[serde(rename = "sentAt")]
    sent_at: Option<Value>,
    #[serde(rename = "writeKey")]
    write_key: Option<Value>,
}

impl View {
    fn of(doc: &Value) -> View {
        let f = |k: &str| doc.get(k).filter(|v| !v.is_null()).cloned();
        View {
            ty: f("type"),
            user_id: f("userId"),
            anonymous_id: f("anonymousId"),
            event: f("event"),
            message_id: f("messageId"),
            sent_at: f("sentAt"),
            write_key: f("writeKey"),
        }
    }
}

/// The batch envelope; messages stay raw slices of the decoded body.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default, deserialize_with = "batch_items")]
    batch: Option<Result<Vec<&'a RawValue>, String>>,
    #[serde(rename = "sentAt")]
    sent_at: Option<Value>,
    #[serde(rename = "writeKey")]
    write_key: Option<Value>,
}

/// `batch` as raw items in one pass; a non-array `batch` is kept as an error for a clear 400.
fn batch_items<'de, D>(d: D) -> Result<Option<Result<Vec<&'de RawValue>, String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Result<Vec<&'de RawValue>, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of messages")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(item) = seq.next_element::<&'de RawValue>()? {
                items.push(item);
            }
            Ok(Ok(items))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is not an array".into()))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Err("\"batch\" is null".into()))
        }
    }
    d.deserialize_any(V).map(Some)
}

fn is_id(v: &Option<Value>) -> bool {
    match v {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(_)) => true,
        _ => false,
    }
}

fn as_string(v: &Option<Value>) -> Option<String> {
    v.as_ref().and_then(Value::as_str).map(str::to_owned)
}

fn starts_object(text: &[u8]) -> bool {
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Strict checks of one message; `implied` is the type implied by a single-message path.
fn validate(i: usize, m: &View, implied: Option<&str>) -> Result<(), String> {
    let ty = match &m.ty {
        Some(Value::String(t)) => {
            if !MESSAGE_TYPES.contains(&t.as_str()) {
                return Err(format!("message {i}: unknown type {t:?}"));
            }
            if let Some(p) = implied {
                if p != t {
                    return Err(format!("message {i}: type {t:?} sent to /v1/{p}"));
                }
            }
            t.as_str()
        }
        None | Some(Value::Null) => match implied {
            Some(p) => p,
            None => return Err(format!("message {i}: missing type")),
        },
        Some(_) => return Err(format!("message {i}: type is not a string")),
    };
    if !is_id(&m.user_id) && !is_id(&m.anonymous_id) {
        return Err(format!(
            "message {i}: no_user_anon_id (neither userId nor anonymousId)"
        ));
    }
    if ty == "track" {
        match &m.event {
            Some(Value::String(e)) if !e.is_empty() => {}
            _ => return Err(format!("message {i}: track without event")),
        }
    }
    Ok(())
}

/// Size of `serde_json::to_string(&message_as_value)`, computed only when it can matter.
///
/// Compact re-serialisation never lengthens whitespace, strings or escapes; only numbers can
/// grow (`1e15` -> `1000000000000000.0`, at most 4.5x), so a raw message of at most
/// `MAX_MESSAGE_BYTES / 5` bytes is certainly within the limit.
fn compact_len_over_limit(raw: &str) -> Result<Option<usize>, String> {
    if raw.len() <= MAX_MESSAGE_BYTES / 5 {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("invalid JSON: {e}"))?;
    let n = serde_json::to_string(&v).map_err(|e| e.to_string())?.len();
    Ok((n > MAX_MESSAGE_BYTES).then_some(n))
}

/// Raw batch items, each with its parsed view (or why it could not be parsed).
type Items<'a> = Vec<(&'a RawValue, Result<View, String>)>;

/// A parsed body: what we could learn even when the request is refused.
enum Parsed<'a> {
    Batch {
        sent_at: Option<String>,
        write_key: Option<String>,
        /// Err when `batch` is missing or not an array.
        items: Result<Items<'a>, String>,
    },
    /// The message, its checked fields and its text.
    Single(Value, View, &'a [u8]),
}

impl<'a> Parsed<'a> {
    fn parse(ep: Endpoint, body: &'a [u8]) -> Result<Parsed<'a>, String> {
        match ep {
            Endpoint::Batch => {
                if !starts_object(body) {
                    // Distinguish "not JSON" from "JSON but not an object".
                    return Err(
                        match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                            Ok(_) => "body is not a JSON object".into(),
                            Err(e) => format!("invalid JSON: {e}"),
                        },
                    );
                }
                let env: Envelope<'a> =
                    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
                let items = match env.batch {
                    None => Err("missing \"batch\" array".to_string()),
                    Some(list) => list.map(|list| {
                        list.into_iter()
                            .enumerate()
                            .map(|(i, m)| {
                                let view = if starts_object(m.get().as_bytes()) {
                                    serde_json::from_str::<View>(m.get())
                                        .map_err(|e| format!("message {i}: {e}"))
                                } else {
                                    Err(format!("message {i} is not an object"))
                                };
                                (m, view)
                            })
                            .collect()
                    }),
                };
                Ok(Parsed::Batch {
                    sent_at: as_string(&env.sent_at),
                    write_key: as_string(&env.write_key),
                    items,
                })
            }
            Endpoint::Single(_) => {
                let doc: Value = serde_json::from_slice(body)
                    .map_err(|e| format!("invalid JSON: {}", strict_json::describe(&e)))?;
                if !doc.is_object() {
                    return Err("body is not a JSON object".into());
                }
                let view = View::of(&doc);
                Ok(Parsed::Single(doc, view, body))
            }
        }
    }

    fn write_key(&self) -> Option<&str> {
        match self {
            Parsed::Batch { write_key, .. } => write_key.as_deref(),
            Parsed::Single(_, v, _) => v.write_key.as_ref().and_then(Value::as_str),
        }
    }

    fn fill(&self, rec: &mut RequestRecord) {
        match self {
            Parsed::Batch { sent_at, items, .. } => {
                rec.sent_at = sent_at.clone();
                if let Ok(items) = items {
                    rec.message_ids = items
                        .iter()
                        .filter_map(|(_, v)| v.as_ref().ok().and_then(|v| as_string(&v.message_id)))
                        .collect();
                }
            }
            Parsed::Single(_, v, _) => {
                rec.sent_at = as_string(&v.sent_at);
                rec.message_ids = as_string(&v.message_id).into_iter().collect();
            }
        }
    }
}

fn segment(shared: &Shared, req: HttpRequest) -> Outcome {
    let header = |k: &str| req.header(k).map(str::to_owned);
    let mut rec = RequestRecord {
        path: req.path.clone(),
        status: 0,
        retry_count: header("x-retry-count"),
        content_encoding: header("content-encoding"),
        authorization_ok: false,
        body_bytes: req.body.len(),
        decoded_bytes: 0,
        message_ids: Vec::new(),
        sent_at: None,
        received_at_ms: now_ms(),
        user_agent: header("user-agent"),
    };
    // The script is consumed in arrival order, before the simulated network delay.
    let step = if req.method == "POST" {
        lock(&shared.script).pop_front()
    } else {
        None
    };
    let delay = lock(&shared.latency).draw();
    shared.sleep_for(delay);
    if shared.stopped() {
        shared.commit(rec, Vec::new());
        return Outcome::Drop;
    }
    if req.method != "POST" {
        rec.status = 405;
        shared.commit(rec, Vec::new());
        let mut resp = Resp::error(405, "method not allowed");
        resp.headers.push(("Allow", "POST".into()));
        return Outcome::Respond(resp);
    }

    // Decode, parse and authenticate (best effort; needed for the record in every case).
    let ep = endpoint(&req.path);
    let decoded = decode_body(&req.body, req.header("content-encoding"));
    if let Ok(d) = &decoded {
        rec.decoded_bytes = d.len();
    }
    let parsed: Result<Parsed<'_>, String> = match (&decoded, ep) {
        (Ok(d), Some(ep)) => Parsed::parse(ep, d),
        (Ok(_), None) => Err(format!("unknown endpoint {}", req.path)),
        (Err(e), _) => Err(e.clone()),
    };
    let header_key = basic_key(req.header("authorization"));
    let body_key = parsed.as_ref().ok().and_then(Parsed::write_key);
    rec.authorization_ok = header_key
        .as_deref()
        .map(|k| shared.key_ok(k))
        .unwrap_or(false)
        || body_key.map(|k| shared.key_ok(k)).unwrap_or(false);
    if let Ok(p) = &parsed {
        p.fill(&mut rec);
    }

    let mut success_code = 200;
    match step {
        None => {}
        Some(Step::Drop) => {
            shared.commit(rec, Vec::new());
            return Outcome::Drop;
        }
        Some(Step::Hang) => {
            shared.commit(rec, Vec::new());
            return Outcome::Hang;
        }
        Some(Step::Redirect { code, location }) => {
            rec.status = code;
            shared.commit(rec, Vec::new());
            let mut resp = Resp::error(code, &format!("scripted redirect to {location}"));
            resp.headers.push(("Location", location));
            return Outcome::Respond(resp);
        }
        Some(Step::Status {
            code,
            retry_after,
            delay_ms,
        }) => {
            shared.sleep(delay_ms);
            if shared.stopped() {
                shared.commit(rec, Vec::new());
                return Outcome::Drop;
            }
            if (200..300).contains(&code) {
                success_code = code;
            } else {
                rec.status = code;
                shared.commit(rec, Vec::new());
                let mut resp = Resp::error(code, &format!("scripted status {code}"));
                if let Some(ra) = retry_after {
                    resp.headers.push(("Retry-After", ra));
                }
                return Outcome::Respond(resp);
            }
        }
    }

    let (status, resp, accepted) = match process(ep, parsed, &rec, !shared.lenient_json) {
        Ok(accepted) => (success_code, Resp::success(success_code), accepted),
        Err((status, reason)) => (status, Resp::error(status, &reason), Vec::new()),
    };
    rec.status = status;
    drop(decoded);
    shared.commit(rec, accepted);
    Outcome::Respond(resp)
}

/// Normal processing; Ok(accepted messages as JSON text) or Err((status, reason)).
fn process(
    ep: Option<Endpoint>,
    parsed: Result<Parsed<'_>, String>,
    rec: &RequestRecord,
    strict: bool,
) -> Result<Vec<Arc<str>>, (u16, String)> {
    let strict_check = |i: usize, text: &[u8]| match strict {
        true => strict_json::check(text).map_err(|e| {
            (
                400,
                format!("message {i}: {e} (strict JSON: Segment-compatible receivers refuse it)"),
            )
        }),
        false => Ok(()),
    };
    let ep = ep.ok_or_else(|| (404, format!("unknown endpoint {}", rec.path)))?;
    let parsed = parsed.map_err(|e| (400, e))?;
    if !rec.authorization_ok {
        return Err((401, "missing or invalid write key".into()));
    }
    let size = rec.decoded_bytes;
    let limit = match ep {
        Endpoint::Batch => MAX_BATCH_BYTES,
        Endpoint::Single(_) => MAX_MESSAGE_BYTES,
    };
    if size > limit {
        return Err((400, format!("request too large: {size} bytes > {limit}")));
    }
    match parsed {
        Parsed::Batch { items, .. } => {
            let items = items.map_err(|e| (400, e))?;
            for (i, (raw, view)) in items.iter().enumerate() {
                let view = view.as_ref().map_err(|e| (400, e.clone()))?;
                validate(i, view, None).map_err(|e| (400, e))?;
                strict_check(i, raw.get().as_bytes())?;
                if let Some(n) = compact_len_over_limit(raw.get()).map_err(|e| (400, e))? {
                    return Err((
                        400,
                        format!("message {i} too large: {n} bytes > {MAX_MESSAGE_BYTES}"),
                    ));
                }
            }
            if items.len() > MAX_BATCH_MESSAGES {
                // Segment answers 200 but rejects the events.
                return Ok(Vec::new());
            }
            Ok(items
                .iter()
                .map(|(raw, _)| Arc::<str>::from(raw.get()))
                .collect())
        }
        Parsed::Single(mut doc, view, text) => {
            let Endpoint::Single(ty) = ep else {
                unreachable!("single body on a batch endpoint")
            };
            validate(0, &view, Some(ty)).map_err(|e| (400, e))?;
            strict_check(0, text)?;
            let size = serde_json::to_string(&doc).map(|s| s.len()).unwrap_or(0);
            if size > MAX_MESSAGE_BYTES {
                return Err((
                    400,
                    format!("message too large: {size} bytes > {MAX_MESSAGE_BYTES}"),
                ));
            }
            if let Some(o) = doc.as_object_mut() {
                o.entry("type")
                    .or_insert_with(|| Value::String(ty.to_owned()));
            }
            let s = serde_json::to_string(&doc).map_err(|e| (400, e.to_string()))?;
            Ok(vec![Arc::from(s)])
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Control routes
// ---------------------------------------------------------------------------------------------

/// Steps from `{"steps":[...]}` (or a bare array); Err is the 400 answer.
fn parse_steps(body: &[u8]) -> Result<Vec<Step>, Resp> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        Resp::json(
            400,
            &json!({"ok": false, "error": format!("invalid JSON: {e}")}),
        )
    })?;
    let list = match &doc {
        Value::Array(a) => Some(a),
        Value::Object(o) => o.get("steps").and_then(Value::as_array),
        _ => None,
    };
    let Some(list) = list else {
        return Err(Resp::json(
            400,
            &json!({"ok": false, "error": "expected {\"steps\":[...]}"}),
        ));
    };
    list.iter()
        .map(Step::from_json)
        .collect::<Result<Vec<Step>, String>>()
        .map_err(|e| Resp::json(400, &json!({"ok": false, "error": e})))
}

/// Largest `latency_ms` / `jitter_ms` accepted over HTTP (10 minutes).
pub const MAX_LATENCY_MS: u64 = 600_000;

/// `{"latency_ms":N,"jitter_ms":M}` (a missing key is 0; unknown keys are refused).
fn parse_latency(body: &[u8]) -> Result<Latency, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        latency_ms: u64,
        #[serde(default)]
        jitter_ms: u64,
    }
    let d: Doc = serde_json::from_slice(body).map_err(|e| format!("invalid latency: {e}"))?;
    if d.latency_ms > MAX_LATENCY_MS || d.jitter_ms > MAX_LATENCY_MS {
        return Err(format!("latency_ms and jitter_ms must be at most {MAX_LATENCY_MS}"));
    }
    Ok(Latency {
        fixed: Duration::from_millis(d.latency_ms),
        jitter: Duration::from_millis(d.jitter_ms),
    })
}

fn latency_json(shared: &Shared) -> Resp {
    let l = *lock(&shared.latency);
    Resp::json(
        200,
        &json!({"latency_ms": l.fixed.as_millis() as u64, "jitter_ms": l.jitter.as_millis() as u64}),
    )
}

fn control(shared: &Shared, req: &HttpRequest) -> Resp {
    let route = req.path.trim_end_matches('/');
    match route {
        "/_test/health" => Resp::json(200, &json!({"ok": true})),
        "/_test/messages" => {
            let d = shared.data();
            let len: usize = d.messages.iter().map(|m| m.len() + 1).sum();
            let mut body = Vec::with_capacity(len + 16);
            body.extend_from_slice(b"{\"messages\":[");
            for (i, m) in d.messages.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(m.as_bytes());
            }
            body.extend_from_slice(b"]}");
            Resp::raw_json(200, body)
        }
        "/_test/requests" => {
            let reqs: Vec<Value> = shared
                .data()
                .requests
                .iter()
                .map(RequestRecord::to_json)
                .collect();
            Resp::json(200, &json!({"requests": reqs}))
        }
        "/_test/count" => {
            let d = shared.data();
            Resp::json(
                200,
                &json!({
                    "count": d.messages.len(),
                    "requests": d.requests.len(),
                    "in_flight": shared.in_flight.load(Ordering::SeqCst),
                    "max_concurrent": shared.max_concurrent.load(Ordering::SeqCst),
                }),
            )
        }
        "/_test/reset" => {
            shared.reset();
            Resp::json(200, &json!({"ok": true}))
        }
        "/_test/script" if req.method == "GET" => {
            let steps: Vec<Value> = lock(&shared.script).iter().map(Step::to_json).collect();
            Resp::json(200, &json!({"steps": steps}))
        }
        "/_test/script" => match parse_steps(&req.body) {
            Ok(steps) => {
                let mut script = lock(&shared.script);
                script.extend(steps);
                Resp::json(200, &json!({"ok": true, "pending": script.len()}))
            }
            Err(resp) => resp,
        },
        "/_test/profile_script" if req.method == "GET" => {
            let steps: Vec<Value> = lock(&shared.profile_script)
                .iter()
                .map(Step::to_json)
                .collect();
            Resp::json(200, &json!({"steps": steps}))
        }
        "/_test/profile_script" => match parse_steps(&req.body) {
            Ok(steps) => {
                let mut script = lock(&shared.profile_script);
                script.extend(steps);
                Resp::json(200, &json!({"ok": true, "pending": script.len()}))
            }
            Err(resp) => resp,
        },
        "/_test/profile_requests" => {
            let reqs: Vec<Value> = lock(&shared.profile_requests)
                .iter()
                .map(ProfileRequest::to_json)
                .collect();
            Resp::json(200, &json!({"requests": reqs}))
        }
        "/_test/profiles" if req.method == "GET" => {
            Resp::json(200, &lock(&shared.profiles).summary())
        }
        "/_test/profiles" => {
            let parsed = std::str::from_utf8(&req.body)
                .map_err(|_| "fixture is not UTF-8".to_string())
                .and_then(Fixture::parse);
            match parsed {
                Ok(fx) => {
                    let n = fx.len();
                    *lock(&shared.profiles) = Arc::new(fx);
                    Resp::json(200, &json!({"ok": true, "profiles": n}))
                }
                Err(e) => Resp::json(400, &json!({"ok": false, "error": e})),
            }
        }
        "/_test/latency" if req.method == "GET" => latency_json(shared),
        "/_test/latency" => match parse_latency(&req.body) {
            Ok(l) => {
                *lock(&shared.latency) = l;
                latency_json(shared)
            }
            Err(e) => Resp::json(400, &json!({"ok": false, "error": e})),
        },
        "/_test/wait" => {
            let count = match req.query_param("count").map(str::parse::<usize>) {
                None => 1,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    return Resp::json(400, &json!({"ok": false, "error": "invalid count"}))
                }
            };
            let timeout_ms = match req.query_param("timeout_ms").map(str::parse::<u64>) {
                None => 5000,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    return Resp::json(400, &json!({"ok": false, "error": "invalid timeout_ms"}))
                }
            };
            let (ok, n) = shared.wait_for(count, Duration::from_millis(timeout_ms));
            Resp::json(200, &json!({"ok": ok, "count": n}))
        }
        _ => Resp::json(
            404,
            &json!({"ok": false, "error": format!("unknown control route {}", req.path)}),
        ),
    }
}
