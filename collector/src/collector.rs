//! The public face: [`Collector`]: start, inspect, script, stop.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::Value;

use crate::options::CollectorOptions;
use crate::printer::Printer;
use crate::profile_fixture::Fixture;
use crate::records::{ProfileRequest, RequestRecord};
use crate::script::Step;
use crate::server::accept_loop;
use crate::state::{lock, Latency, Shared};

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
        let shared = Arc::new(Shared::new(&opts, printer));
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

    /// Gives the live page (`/`) the Optimizely datafile whose traffic allocation it compares
    /// exposures with (replacing any earlier one; on error the old one stays). Returns the
    /// number of A/B experiments in it.
    pub fn set_datafile_json(&self, text: &str) -> Result<usize, String> {
        crate::page::set_datafile(&self.shared, text)
    }

    /// The live page's figures as `GET /_test/live` serves them: per rule, unique users and
    /// events per variation against the datafile's split, and the SRM verdict.
    pub fn live_summary(&self) -> Value {
        crate::page::summary(&self.shared)
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
    /// From now on, a request holding a message whose JSON contains `needle` is answered 400
    /// and nothing of it is accepted (None: off). Stands in for a receiver that refuses one bad
    /// value, for poison-message tests. Also `POST /_test/refuse {"containing": "..."|null}`.
    pub fn refuse_messages_containing(&self, needle: Option<&str>) {
        *lock(&self.shared.refuse_containing) = needle.filter(|n| !n.is_empty()).map(str::to_owned);
    }

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
