//! The state every connection thread shares: what was accepted and recorded, the scripts, the
//! Profile API fixture, the simulated latency, the concurrency gauge, and stopping.

use std::collections::{HashMap, VecDeque};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::datafile::Datafile;
use crate::http::{Outcome, Resp};
use crate::live::Live;
use crate::options::CollectorOptions;
use crate::printer::Printer;
use crate::profile_fixture::Fixture;
use crate::records::{ProfileRequest, RequestRecord};
use crate::script::Step;

/// Upper bound of one `/_test/wait`.
const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Default)]
pub(crate) struct Data {
    /// Accepted messages, compact JSON.
    pub(crate) messages: Vec<Arc<str>>,
    pub(crate) requests: Vec<RequestRecord>,
    /// Incremented by each reset, so that readers of `messages` know to start over.
    pub(crate) generation: u64,
}

/// Simulated network delay of Segment requests.
#[derive(Clone, Copy)]
pub(crate) struct Latency {
    pub(crate) fixed: Duration,
    pub(crate) jitter: Duration,
}

impl Latency {
    /// `fixed` plus a uniform draw from `[0, jitter]` (microsecond steps).
    pub(crate) fn draw(self) -> Duration {
        let jitter_us = self.jitter.as_micros().min(u64::MAX as u128) as u64;
        let extra = if jitter_us == 0 {
            0
        } else {
            fastrand::u64(0..=jitter_us)
        };
        self.fixed + Duration::from_micros(extra)
    }
}

pub(crate) struct Shared {
    pub(crate) write_keys: Vec<String>,
    /// See [`CollectorOptions::lenient_json`].
    pub(crate) lenient_json: bool,
    pub(crate) latency: Mutex<Latency>,
    /// A receiver rule for poison-message tests: a message whose JSON contains this text makes
    /// its whole request a 400 (as a strict receiver refuses one bad value).
    pub(crate) refuse_containing: Mutex<Option<String>>,
    /// Segment requests being handled now, and the most at once since start or reset.
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_concurrent: AtomicUsize,
    pub(crate) data: Mutex<Data>,
    pub(crate) data_cv: Condvar,
    pub(crate) script: Mutex<VecDeque<Step>>,
    /// Profile API fixture (replaced whole; handlers clone the Arc).
    pub(crate) profiles: Mutex<Arc<Fixture>>,
    pub(crate) profile_script: Mutex<VecDeque<Step>>,
    pub(crate) profile_requests: Mutex<Vec<ProfileRequest>>,
    /// `Request-Id` header of Profile API answers.
    pub(crate) profile_request_seq: AtomicU64,
    pub(crate) stopped: AtomicBool,
    pub(crate) stop_lock: Mutex<()>,
    pub(crate) stop_cv: Condvar,
    pub(crate) conns: Mutex<HashMap<u64, TcpStream>>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) printer: Option<Printer>,
    /// The datafile the live page compares exposures with (replaced whole).
    pub(crate) datafile: Mutex<Option<Arc<Datafile>>>,
    /// What the live page has read of `data.messages` so far.
    pub(crate) live: Mutex<Live>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(opts: &CollectorOptions, printer: Option<Printer>) -> Shared {
        Shared {
            write_keys: opts.write_keys.clone(),
            lenient_json: opts.lenient_json,
            latency: Mutex::new(Latency {
                fixed: Duration::from_millis(opts.latency_ms),
                jitter: Duration::from_millis(opts.jitter_ms),
            }),
            refuse_containing: Mutex::new(None),
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
            datafile: Mutex::new(None),
            live: Mutex::new(Live::default()),
        }
    }

    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub(crate) fn reset(&self) {
        {
            let mut d = self.data();
            d.messages.clear();
            d.requests.clear();
            d.generation += 1;
        }
        lock(&self.script).clear();
        lock(&self.profile_script).clear();
        lock(&self.profile_requests).clear();
        // Requests still being handled stay counted.
        self.max_concurrent
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    pub(crate) fn commit_profile(&self, rec: ProfileRequest) {
        lock(&self.profile_requests).push(rec);
    }

    pub(crate) fn key_ok(&self, key: &str) -> bool {
        !key.is_empty() && (self.write_keys.is_empty() || self.write_keys.iter().any(|k| k == key))
    }

    /// Records a request and the messages it got accepted, atomically.
    pub(crate) fn commit(&self, rec: RequestRecord, accepted: Vec<Arc<str>>) {
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
    pub(crate) fn wait_for(&self, n: usize, timeout: Duration) -> (bool, usize) {
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
    pub(crate) fn sleep(&self, ms: u64) {
        self.sleep_for(Duration::from_millis(ms));
    }

    /// Sleeps up to `d`, waking early when the collector stops.
    pub(crate) fn sleep_for(&self, d: Duration) {
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

    /// Plays the next step of a route's script (`None`: nothing pending), sleeping a scripted
    /// delay (cut short by stop). `Ok(code)`: process the request and answer `code` on success
    /// (200 unless a 2xx step says otherwise). `Err((status, outcome))`: the step decided the answer;
    /// record `status` (0: none) and accept nothing. `error(code, message)` builds the route's error
    /// response.
    pub(crate) fn play(
        &self,
        step: Option<Step>,
        error: impl FnOnce(u16, &str) -> Resp,
    ) -> Result<u16, (u16, Outcome)> {
        let answer = |code: u16, message: String, header: Option<(&'static str, String)>| {
            let mut resp = error(code, &message);
            resp.headers.extend(header);
            Err((code, Outcome::Respond(resp)))
        };
        match step {
            None => Ok(200),
            Some(Step::Drop) => Err((0, Outcome::Drop)),
            Some(Step::Hang) => Err((0, Outcome::Hang)),
            Some(Step::Redirect { code, location }) => answer(
                code,
                format!("scripted redirect to {location}"),
                Some(("Location", location)),
            ),
            Some(Step::Status {
                code,
                retry_after,
                delay_ms,
            }) => {
                self.sleep(delay_ms);
                if self.stopped() {
                    Err((0, Outcome::Drop))
                } else if (200..300).contains(&code) {
                    Ok(code)
                } else {
                    answer(
                        code,
                        format!("scripted status {code}"),
                        retry_after.map(|ra| ("Retry-After", ra)),
                    )
                }
            }
        }
    }

    /// Blocks until the collector stops.
    pub(crate) fn wait_stopped(&self) {
        let mut g = lock(&self.stop_lock);
        while !self.stopped() {
            g = self.stop_cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// One Segment request being handled: raises `in_flight` (and `max_concurrent`) while alive.
pub(crate) struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    pub(crate) fn enter(shared: &'a Shared) -> InFlight<'a> {
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

/// Now as unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
