//! Delivery (docs/design.md §5): callers put messages in a queue without ever blocking; a
//! dispatcher thread forms batches and hands them to up to `max_in_flight` worker threads, each
//! sending one request at a time over a shared pool of keep-alive connections, paced by a
//! request budget and a shared pause after 429s.
//!
//! - `queue`: the message type and the bound on what is held.
//! - `dispatcher`: batch forming and when a batch leaves.
//! - `worker`: serializing, sending, retrying, splitting refused batches.
//! - `pacing`: the request budget and the shared pause.
//! - `progress`: which messages are resolved, for flush.
//! - `outage`: with a spool, whether the receiver is failing (probes instead of retries).

mod dispatcher;
mod outage;
mod pacing;
mod progress;
mod queue;
mod worker;

pub use queue::Queued;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender, TrySendError};

use crate::config::{Config, LogLevel, MAX_MESSAGE_BYTES};
use crate::event::format_timestamp;
use crate::log::Logger;
use crate::spool::Spool;
use crate::stats::{bump, Stats};
use crate::transport::Transport;

pub enum Control {
    /// A batch's worth of messages is waiting.
    Wake,
    /// A worker finished its batch.
    WorkerFree,
    /// A flush started: send what is queued now.
    Flush,
    /// Files appeared in the spool (found at start, adopted).
    Backlog,
    /// Send what is left (one attempt each) and exit.
    Stop,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    TooLarge(usize),
    QueueFull,
    Closed,
}

/// The pending flushes: the earliest deadline still ahead, and an epoch that changes with every
/// flush so each worker cuts one backoff short per flush.
#[derive(Default)]
struct FlushState {
    deadline: Mutex<Option<Instant>>,
    epoch: AtomicU64,
    /// Messages below this sequence number must leave now.
    upto: AtomicU64,
}

impl FlushState {
    fn begin(&self, deadline: Instant, target: u64) {
        let now = Instant::now();
        let mut d = self.deadline.lock().unwrap_or_else(|p| p.into_inner());
        // An earlier flush still waiting keeps its earlier deadline; a passed one is over.
        *d = Some(match *d {
            Some(current) if current > now => current.min(deadline),
            _ => deadline,
        });
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.upto.fetch_max(target, Ordering::AcqRel);
    }

    /// The pending flush's deadline and epoch, if its deadline is still ahead.
    fn pending(&self, now: Instant) -> Option<(Instant, u64)> {
        let d = *self.deadline.lock().unwrap_or_else(|p| p.into_inner());
        d.filter(|&d| d > now).map(|d| (d, self.epoch.load(Ordering::Acquire)))
    }
}

/// Wakes workers sleeping in a backoff, a pause or for a budget token (flush, shutdown). The
/// generation makes a wake-up between "checked the conditions" and "went to sleep" count.
#[derive(Default)]
struct Signal {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Signal {
    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.cv.notify_all();
    }

    /// Sleeps until `end` or a notify after `seen` (spurious wake-ups are fine for callers).
    fn wait(&self, seen: u64, end: Instant) {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        while *g == seen {
            let now = Instant::now();
            if now >= end {
                return;
            }
            g = match self.cv.wait_timeout(g, end - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// State shared by callers, the dispatcher and the workers.
struct Shared {
    config: Arc<Config>,
    logger: Logger,
    stats: Stats,
    occupancy: queue::Occupancy,
    transport: Transport,
    budget: pacing::Budget,
    pause: pacing::Pause,
    progress: progress::Progress,
    flush: FlushState,
    stopping: AtomicBool,
    signal: Signal,
    /// Batches handed to workers and not yet resolved.
    busy: AtomicUsize,
    /// Batches handed to workers that have not taken their first budget token yet: the
    /// dispatcher hands over the next one only when this is zero, so waiting batches keep
    /// growing in the dispatcher instead of waiting, frozen, in a worker.
    awaiting_token: AtomicUsize,
    wake_pending: AtomicBool,
    /// Messages taken off the channel; guarded so a flush can snapshot "taken + still queued"
    /// atomically with respect to the dispatcher's draining.
    taken: Mutex<u64>,
    /// Exposure buffers the workers have serialized, handed back to callers: no malloc on the
    /// hot path in steady state.
    spare_tx: Sender<Vec<u8>>,
    spare_rx: Receiver<Vec<u8>>,
    write_key_json: String,
    control: Sender<Control>,
    /// Run by the dispatcher on every wake (at least every `flush_interval_ms`): work due without
    /// a caller, such as releasing held decisions whose timeout passed (`Exposures::release_expired`).
    wake_hook: std::sync::OnceLock<WakeHook>,
    /// The disk spool, when configured (docs/design.md §5.1).
    spool: Option<Arc<Spool>>,
    outage: outage::Outage,
    /// Spool files being sent by workers.
    draining: AtomicUsize,
}

/// Own batches whose spool files were dropped to respect the bounds: they are resolved (counted
/// in `spool_dropped`), so a flush does not wait for them.
fn resolve_dropped(s: &Shared, dropped_own: &[u64]) {
    for &seq in dropped_own {
        s.progress.resolved(seq);
    }
}

type WakeHook = Box<dyn Fn() + Send + Sync>;

/// Buffers kept for reuse.
const SPARE_BUFFERS: usize = 4096;

pub struct Pipeline {
    s: Arc<Shared>,
    tx: Sender<Queued>,
    rx_len: Receiver<Queued>,
    exited: Arc<(Mutex<bool>, Condvar)>,
    /// The spool's housekeeping thread has returned.
    housekeeping_done: Option<Arc<(Mutex<bool>, Condvar)>>,
}

/// Waits until `flag` is set or `deadline`; false at the deadline.
fn wait_flag(flag: &(Mutex<bool>, Condvar), deadline: Instant) -> bool {
    let (lock, cv) = flag;
    let mut done = lock.lock().unwrap_or_else(|p| p.into_inner());
    while !*done {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        done = match cv.wait_timeout(done, deadline - now) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
    }
    true
}

fn set_flag(flag: &(Mutex<bool>, Condvar)) {
    *flag.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
    flag.1.notify_all();
}

impl Pipeline {
    /// Builds the transport and starts the dispatcher thread (workers start on demand).
    pub fn start(config: Arc<Config>, logger: Logger) -> Result<Pipeline, String> {
        let transport = Transport::new(&config)?;
        let (tx, rx) = unbounded::<Queued>();
        let (control, control_rx) = unbounded::<Control>();
        let (spare_tx, spare_rx) = bounded::<Vec<u8>>(SPARE_BUFFERS);
        // Opened on the calling thread (a lock and perhaps a mkdir); scanned in the background.
        let spool = config.spool.as_ref().map(|c| Arc::new(Spool::open(c, &logger)));
        let s = Arc::new(Shared {
            occupancy: queue::Occupancy::new(config.max_queue_events, config.max_queue_bytes),
            budget: pacing::Budget::new(config.max_requests_per_second),
            write_key_json: serde_json::to_string(&config.write_key).unwrap_or_default(),
            config,
            logger,
            stats: Stats::default(),
            transport,
            pause: pacing::Pause::default(),
            progress: progress::Progress::default(),
            flush: FlushState::default(),
            stopping: AtomicBool::new(false),
            signal: Signal::default(),
            busy: AtomicUsize::new(0),
            awaiting_token: AtomicUsize::new(0),
            wake_pending: AtomicBool::new(false),
            taken: Mutex::new(0),
            spare_tx,
            spare_rx,
            control,
            wake_hook: std::sync::OnceLock::new(),
            spool,
            outage: outage::Outage::default(),
            draining: AtomicUsize::new(0),
        });
        let exited = Arc::new((Mutex::new(false), Condvar::new()));
        let (shared, done, rx_len) = (Arc::clone(&s), Arc::clone(&exited), rx.clone());
        std::thread::Builder::new()
            .name("flagwire-dispatch".into())
            .spawn(move || {
                let mut d = dispatcher::Dispatcher::new(Arc::clone(&shared), rx, control_rx);
                // A bug must not silently stop delivery for the life of the process.
                while std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.run())).is_err() {
                    shared.logger.log(LogLevel::Error, || "sender dispatcher panicked; restarting it".into());
                    std::thread::sleep(Duration::from_millis(100));
                }
                *done.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
                done.1.notify_all();
            })
            .map_err(|e| format!("cannot start the sender thread: {e}"))?;
        let housekeeping_done = match &s.spool {
            Some(spool) => {
                let (spool, done, wake) = (Arc::clone(spool), Arc::new((Mutex::new(false), Condvar::new())), s.control.clone());
                let finished = Arc::clone(&done);
                std::thread::Builder::new()
                    .name("flagwire-spool".into())
                    .spawn(move || {
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            spool.housekeeping(|| {
                                let _ = wake.send(Control::Backlog);
                            })
                        }));
                        set_flag(&finished);
                    })
                    .map_err(|e| format!("cannot start the spool thread: {e}"))?;
                Some(done)
            }
            None => None,
        };
        Ok(Pipeline { s, tx, rx_len, exited, housekeeping_done })
    }

    /// The spool's state, for the host's logger once it is set (init's lines went to stderr).
    pub fn spool_status(&self) -> Option<(LogLevel, String)> {
        self.s.spool.as_ref().map(|s| s.status_line())
    }

    /// The spool's counters for stats (docs/design.md §6); zeros without a spool.
    pub fn spool_stats(&self) -> serde_json::Map<String, serde_json::Value> {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (files, bytes, safe, counters) = match &self.s.spool {
            Some(sp) => {
                let (files, bytes) = sp.size();
                (files as u64, bytes, self.s.progress.safe_below(), Some(&sp.counters))
            }
            None => (0, 0, 0, None),
        };
        let c = |f: fn(&crate::spool::Counters) -> &AtomicU64| counters.map_or(0, |c| g(f(c)));
        let json = serde_json::json!({
            "spooled": c(|c| &c.spooled),
            "unspooled": c(|c| &c.unspooled),
            "spool_recovered": c(|c| &c.recovered),
            "spool_dropped": c(|c| &c.dropped),
            "spool_corrupt_files": c(|c| &c.corrupt_files),
            "spool_unwritable": c(|c| &c.unwritable),
            "spool_files": files,
            "spool_bytes": bytes,
            "spool_safe": safe,
        });
        match json {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// Sets the wake hook (once; later calls are ignored).
    pub fn set_wake_hook(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.s.wake_hook.set(Box::new(hook));
    }

    pub fn stats(&self) -> &Stats {
        &self.s.stats
    }

    /// A recycled buffer for the next exposure, or a new one.
    pub fn spare_buffer(&self) -> Vec<u8> {
        self.s.spare_rx.try_recv().unwrap_or_default()
    }

    /// Hot path: never blocks. The message is already serialized or packed.
    pub fn push(&self, message: Queued) -> Result<(), PushError> {
        let s = &self.s;
        let size = message.size();
        if size > MAX_MESSAGE_BYTES {
            bump(&s.stats.dropped_too_large);
            return Err(PushError::TooLarge(size));
        }
        if !s.occupancy.try_add(size) {
            bump(&s.stats.dropped_queue_full);
            return Err(PushError::QueueFull);
        }
        match self.tx.try_send(message) {
            Ok(()) => {
                bump(&s.stats.enqueued);
                // Load before swap: under sustained load the flag stays set and callers only read it.
                if self.tx.len() >= s.config.batch_size
                    && !s.wake_pending.load(Ordering::Relaxed)
                    && !s.wake_pending.swap(true, Ordering::AcqRel)
                {
                    let _ = s.control.send(Control::Wake);
                }
                Ok(())
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                s.occupancy.release(1, size as u64);
                Err(PushError::Closed)
            }
        }
    }

    /// Events accepted (or recovered from the spool) and not yet delivered, failed or dropped
    /// from the spool: in memory or on disk.
    pub fn queue_depth(&self) -> u64 {
        let st = &self.s.stats;
        let mut done = st.delivered.load(Ordering::Relaxed) + st.failed.load(Ordering::Relaxed);
        let mut held = st.enqueued.load(Ordering::Relaxed);
        if let Some(sp) = &self.s.spool {
            held += sp.counters.recovered.load(Ordering::Relaxed);
            done += sp.counters.dropped.load(Ordering::Relaxed);
        }
        held.saturating_sub(done)
    }

    /// Requests being sent or waiting to be retried right now (spool files included).
    pub fn in_flight(&self) -> usize {
        self.s.progress.in_flight() + self.s.draining.load(Ordering::Acquire)
    }

    /// Waits until every message enqueued before the call is delivered or failed.
    /// Returns false at the deadline (the messages stay queued).
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let target = {
            let taken = self.s.taken.lock().unwrap_or_else(|p| p.into_inner());
            *taken + self.rx_len.len() as u64
        };
        if self.s.progress.resolved_below(target) {
            return true;
        }
        self.s.flush.begin(deadline, target);
        self.s.signal.notify();
        let _ = self.s.control.send(Control::Flush);
        self.s.progress.wait_resolved(target, deadline)
    }

    /// Asks the dispatcher to send what is left (one attempt each) and exit, and waits until
    /// `deadline` for it and the workers; requests still hanging then are left to finish on their
    /// own (their threads hold their own reference to the shared state). With a spool, what is
    /// left goes to the spool instead, and only the writes are waited for.
    pub fn stop(&self, deadline: Instant) -> bool {
        self.s.stopping.store(true, Ordering::Release);
        self.s.signal.notify();
        let _ = self.s.control.send(Control::Stop);
        if !wait_flag(&self.exited, deadline) {
            return false;
        }
        let done = match &self.s.spool {
            Some(spool) => {
                let written = self.s.progress.wait_safe(deadline);
                spool.stop();
                let synced = self.housekeeping_done.as_deref().is_none_or(|h| wait_flag(h, deadline));
                // A worker books its batch (flush returns) just before it counts itself free.
                while self.s.busy.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let idle = self.s.busy.load(Ordering::Acquire) == 0;
                if idle {
                    spool.close();
                }
                written & synced & idle
            }
            None => self.s.progress.wait_idle(deadline),
        };
        let left = self.queue_depth();
        if left > 0 {
            match &self.s.spool {
                Some(spool) => {
                    let (files, _) = spool.size();
                    self.s.logger.log(LogLevel::Warn, || format!("shutdown: {left} events not delivered are left in the spool ({files} files) for the next process"))
                }
                None => self.s.logger.log(LogLevel::Warn, || format!("shutdown: {left} events were not delivered before the deadline")),
            }
        }
        done
    }
}

/// Bytes of `{"batch":[` `],"sentAt":"<24>","writeKey":<key>}` around the messages.
fn envelope_len(write_key_json_len: usize) -> usize {
    "{\"batch\":[".len() + "],\"sentAt\":\"".len() + 24 + "\",\"writeKey\":".len() + write_key_json_len + 1
}

/// What comes before the joined messages in a `/v1/batch` body.
const ENVELOPE_HEAD: &[u8] = b"{\"batch\":[";

/// What comes after the joined messages in a `/v1/batch` body, into `out`; `sentAt` is fresh on
/// every attempt.
fn envelope_tail(write_key_json: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"],\"sentAt\":\"");
    format_timestamp(SystemTime::now(), out);
    out.extend_from_slice(b"\",\"writeKey\":");
    out.extend_from_slice(write_key_json.as_bytes());
    out.push(b'}');
}
