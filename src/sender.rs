//! The bounded queue and its background sender (DESIGN §5).
//!
//! Callers serialize a message and `try_send` it into a bounded crossbeam channel; they never
//! block. One sender thread per client wakes on a timer (`flush_interval_ms`), when a batch is full
//! (a producer nudges it once), or on flush/stop, and turns the queue into `/v1/batch` requests
//! with retries. It does not wake per event: that would bounce cache lines between the cores.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::config::{Config, LogLevel, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES};
use crate::event::{format_timestamp, PackedExposure};
use crate::log::Logger;
use crate::retry::{backoff, judge, unit_random, Verdict};
use crate::stats::{bump, Stats};
use crate::transport::Transport;

/// One message in the queue, with its exact serialized size (known at the call).
pub struct Queued {
    payload: Payload,
    size: usize,
}

enum Payload {
    /// Already serialized (`flagwire_enqueue`).
    Json(Vec<u8>),
    /// Serialized by the sender, off the caller's thread.
    Exposure(PackedExposure),
}

impl Queued {
    pub fn json(bytes: Vec<u8>) -> Queued {
        Queued { size: bytes.len(), payload: Payload::Json(bytes) }
    }

    pub fn exposure(packed: PackedExposure, config: &Config) -> Queued {
        Queued { size: packed.serialized_len(config), payload: Payload::Exposure(packed) }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    fn write_to(&self, config: &Config, out: &mut Vec<u8>) {
        match &self.payload {
            Payload::Json(bytes) => out.extend_from_slice(bytes),
            Payload::Exposure(packed) => packed.write_to(config, out),
        }
    }
}

pub enum Control {
    /// A batch's worth of messages is waiting.
    Wake,
    /// Send everything now; shorten backoff so one attempt happens before `deadline`.
    Flush { deadline: Instant },
    /// Finish the current attempt and exit.
    Stop,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    TooLarge(usize),
    QueueFull,
    Closed,
}

pub struct Pipeline {
    config: Arc<Config>,
    logger: Logger,
    tx: Sender<Queued>,
    control: Sender<Control>,
    pub stats: Stats,
    queued_bytes: AtomicUsize,
    wake_pending: AtomicBool,
    /// Messages taken off the channel by the sender, guarded so a flush can snapshot
    /// "taken + still queued" atomically with respect to the sender's draining.
    taken: Mutex<u64>,
    queue_len: Box<dyn Fn() -> usize + Send + Sync>,
    /// Messages delivered or failed, in queue order; flush waits on it.
    resolved: Mutex<u64>,
    resolved_cv: Condvar,
    exited: Mutex<bool>,
    exited_cv: Condvar,
    /// Exposure buffers the sender has serialized, handed back to callers: no malloc on the hot
    /// path and no allocations freed across threads in steady state.
    spare_tx: Sender<Vec<u8>>,
    spare_rx: Receiver<Vec<u8>>,
    /// Run by the sender on every wake (at least every `flush_interval_ms`): work due without a
    /// caller, such as releasing held decisions whose timeout passed (`Exposures::release_expired`).
    wake_hook: std::sync::OnceLock<WakeHook>,
}

type WakeHook = Box<dyn Fn(&Pipeline) + Send + Sync>;

/// Buffers kept for reuse, and the largest one worth keeping.
const SPARE_BUFFERS: usize = 4096;
const SPARE_MAX_CAPACITY: usize = 2048;

impl Pipeline {
    /// Builds the transport and starts the sender thread.
    pub fn start(config: Arc<Config>, logger: Logger) -> Result<Arc<Pipeline>, String> {
        let transport = Transport::new(&config)?;
        let (tx, rx) = bounded::<Queued>(config.max_queue_events);
        let (control, control_rx) = unbounded::<Control>();
        let len_rx = rx.clone();
        let (spare_tx, spare_rx) = bounded::<Vec<u8>>(SPARE_BUFFERS);
        let pipeline = Arc::new(Pipeline {
            config,
            logger,
            tx,
            control,
            stats: Stats::default(),
            queued_bytes: AtomicUsize::new(0),
            wake_pending: AtomicBool::new(false),
            taken: Mutex::new(0),
            queue_len: Box::new(move || len_rx.len()),
            resolved: Mutex::new(0),
            resolved_cv: Condvar::new(),
            exited: Mutex::new(false),
            exited_cv: Condvar::new(),
            spare_tx,
            spare_rx,
            wake_hook: std::sync::OnceLock::new(),
        });
        let worker = Arc::clone(&pipeline);
        std::thread::Builder::new()
            .name("flagwire-sender".into())
            .spawn(move || {
                let mut sender = SenderLoop::new(worker, rx, control_rx, transport);
                // A bug in the sender must not silently stop delivery for the life of the process.
                while std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sender.run())).is_err() {
                    sender.p.logger.log(LogLevel::Error, || "sender thread panicked; restarting it".into());
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .map_err(|e| format!("cannot start the sender thread: {e}"))?;
        Ok(pipeline)
    }

    /// Sets the wake hook (once; later calls are ignored).
    pub fn set_wake_hook(&self, hook: impl Fn(&Pipeline) + Send + Sync + 'static) {
        let _ = self.wake_hook.set(Box::new(hook));
    }

    /// A recycled buffer for the next exposure, or a new one.
    pub fn spare_buffer(&self) -> Vec<u8> {
        self.spare_rx.try_recv().unwrap_or_default()
    }

    /// Hot path: never blocks. The message is already serialized or packed.
    pub fn push(&self, message: Queued) -> Result<(), PushError> {
        let size = message.size;
        if size > MAX_MESSAGE_BYTES {
            bump(&self.stats.dropped_too_large);
            return Err(PushError::TooLarge(size));
        }
        let before = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if before + size > self.config.max_queue_bytes {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            bump(&self.stats.dropped_queue_full);
            return Err(PushError::QueueFull);
        }
        match self.tx.try_send(message) {
            Ok(()) => {
                bump(&self.stats.enqueued);
                // Load before swap: under sustained load the flag stays set and callers only read it.
                if self.tx.len() >= self.config.batch_size
                    && !self.wake_pending.load(Ordering::Relaxed)
                    && !self.wake_pending.swap(true, Ordering::AcqRel)
                {
                    let _ = self.control.send(Control::Wake);
                }
                Ok(())
            }
            Err(e) => {
                self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                match e {
                    TrySendError::Full(_) => {
                        bump(&self.stats.dropped_queue_full);
                        Err(PushError::QueueFull)
                    }
                    TrySendError::Disconnected(_) => Err(PushError::Closed),
                }
            }
        }
    }

    /// Events accepted and not yet delivered or failed.
    pub fn queue_depth(&self) -> u64 {
        let s = &self.stats;
        let done = s.delivered.load(Ordering::Relaxed) + s.failed.load(Ordering::Relaxed);
        s.enqueued.load(Ordering::Relaxed).saturating_sub(done)
    }

    /// Waits until every message enqueued before the call is delivered or failed.
    /// Returns false at the deadline (the messages stay queued).
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let target = {
            let taken = lock(&self.taken);
            *taken + (self.queue_len)() as u64
        };
        if *lock(&self.resolved) >= target {
            return true;
        }
        let _ = self.control.send(Control::Flush { deadline });
        wait_until(&self.resolved, &self.resolved_cv, deadline, |resolved| *resolved >= target)
    }

    /// Asks the sender to exit and waits for it until `deadline`; a sender stuck in a request is
    /// left to finish on its own (it holds its own reference to this pipeline).
    pub fn stop(&self, deadline: Instant) -> bool {
        let _ = self.control.send(Control::Stop);
        wait_until(&self.exited, &self.exited_cv, deadline, |exited| *exited)
    }

    fn resolve(&self, n: usize) {
        *lock(&self.resolved) += n as u64;
        self.resolved_cv.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `cv` until `done` holds for the guarded value or `deadline` passes; true when done.
fn wait_until<T>(m: &Mutex<T>, cv: &Condvar, deadline: Instant, done: impl Fn(&T) -> bool) -> bool {
    let mut guard = lock(m);
    while !done(&guard) {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        guard = match cv.wait_timeout(guard, deadline - now) {
            Ok((g, _)) => g,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
    true
}

/// Messages taken off the queue and not yet sent.
struct Batch {
    messages: Vec<Queued>,
    /// Sum of message sizes plus one comma between each.
    joined_len: usize,
    /// A message that did not fit; it opens the next batch.
    carry: Option<Queued>,
}

impl Batch {
    fn len(&self) -> usize {
        self.messages.len()
    }
}

struct SenderLoop {
    p: Arc<Pipeline>,
    rx: Receiver<Queued>,
    control: Receiver<Control>,
    transport: Transport,
    batch: Batch,
    /// Room for messages in one request: 500,000 bytes minus the envelope.
    max_joined: usize,
    write_key_json: String,
    flush_deadline: Option<Instant>,
    /// The current flush already shortened one backoff.
    flush_cut_used: bool,
    stopping: bool,
}

impl SenderLoop {
    fn new(p: Arc<Pipeline>, rx: Receiver<Queued>, control: Receiver<Control>, transport: Transport) -> SenderLoop {
        let write_key_json = serde_json::to_string(&p.config.write_key).unwrap_or_default();
        let envelope = envelope_len(write_key_json.len());
        SenderLoop {
            max_joined: MAX_BATCH_BYTES - envelope,
            batch: Batch { messages: Vec::with_capacity(p.config.batch_size), joined_len: 0, carry: None },
            p,
            rx,
            control,
            transport,
            write_key_json,
            flush_deadline: None,
            flush_cut_used: false,
            stopping: false,
        }
    }

    fn run(&mut self) {
        let interval = self.p.config.flush_interval();
        let mut next_tick = Instant::now() + interval;
        loop {
            if let Some(hook) = self.p.wake_hook.get() {
                hook(&self.p);
            }
            let full = self.fill();
            let now = Instant::now();
            let due = now >= next_tick || self.flush_deadline.is_some() || self.stopping;
            if full || (due && self.batch.len() > 0) {
                self.send_batch();
                continue;
            }
            if due {
                // Everything queued has been sent.
                next_tick = now + interval;
                self.flush_deadline = None;
            }
            if self.stopping {
                break;
            }
            match self.control.recv_timeout(next_tick.saturating_duration_since(now)) {
                Ok(msg) => self.on_control(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.stopping = true,
            }
        }
        let left = self.p.queue_depth();
        if left > 0 {
            self.p.logger.log(LogLevel::Warn, || format!("shutdown: {left} events were not delivered before the deadline"));
        }
        *lock(&self.p.exited) = true;
        self.p.exited_cv.notify_all();
    }

    fn on_control(&mut self, msg: Control) {
        match msg {
            Control::Wake => self.p.wake_pending.store(false, Ordering::Release),
            Control::Flush { deadline } => {
                // An earlier flush that is still waiting keeps its (earlier) deadline; one whose
                // deadline has passed is over and must not shape this one.
                let now = Instant::now();
                self.flush_deadline = Some(match self.flush_deadline {
                    Some(d) if d > now => d.min(deadline),
                    _ => deadline,
                });
                self.flush_cut_used = false;
            }
            Control::Stop => self.stopping = true,
        }
    }

    /// Moves queued messages into the batch; true when the batch is full (count or bytes).
    fn fill(&mut self) -> bool {
        let batch_size = self.p.config.batch_size;
        let b = &mut self.batch;
        if let Some(m) = b.carry.take() {
            b.joined_len = m.size;
            b.messages.push(m);
        }
        let mut taken = lock(&self.p.taken);
        while b.messages.len() < batch_size {
            let Ok(m) = self.rx.try_recv() else { break };
            *taken += 1;
            self.p.queued_bytes.fetch_sub(m.size, Ordering::Relaxed);
            let added = if b.messages.is_empty() { m.size } else { m.size + 1 };
            if b.joined_len + added > self.max_joined {
                b.carry = Some(m);
                return true;
            }
            b.joined_len += added;
            b.messages.push(m);
        }
        b.messages.len() >= batch_size
    }

    fn send_batch(&mut self) {
        let n = self.batch.len();
        let mut joined = Vec::with_capacity(self.batch.joined_len);
        for (i, m) in self.batch.messages.drain(..).enumerate() {
            if i > 0 {
                joined.push(b',');
            }
            let before = joined.len();
            m.write_to(&self.p.config, &mut joined);
            // The size was counted at the call by the same writer; a mismatch would be a bug.
            debug_assert_eq!(joined.len() - before, m.size, "counted size differs from serialized size");
            if let Payload::Exposure(packed) = m.payload {
                let buffer = packed.into_buffer();
                if buffer.capacity() <= SPARE_MAX_CAPACITY {
                    let _ = self.p.spare_tx.try_send(buffer);
                }
            }
        }
        self.batch.joined_len = 0;
        let cfg = Arc::clone(&self.p.config);
        let p = Arc::clone(&self.p);
        let stats = &p.stats;
        let mut attempt: u32 = 0;
        let delivered = loop {
            let body = self.envelope(&joined);
            if self.p.logger.enabled(LogLevel::Debug) {
                self.p.logger.log(LogLevel::Debug, || {
                    format!("sending {n} events, attempt {}: {}", attempt + 1, String::from_utf8_lossy(&joined))
                });
            }
            let (outcome, sent) = self.transport.send(&body, attempt);
            stats.bytes_sent.fetch_add(sent as u64, Ordering::Relaxed);
            match judge(&outcome, SystemTime::now()) {
                Verdict::Delivered => break true,
                Verdict::GiveUp => {
                    self.p.logger.log(LogLevel::Error, || format!("batch of {n} events refused ({outcome:?}); not retried"));
                    break false;
                }
                Verdict::Retry { server_wait } => {
                    if attempt >= cfg.max_retries || self.stopping {
                        self.p.logger.log(LogLevel::Error, || {
                            format!("batch of {n} events failed after {} attempts ({outcome:?})", attempt + 1)
                        });
                        break false;
                    }
                    let wait = server_wait.unwrap_or_else(|| {
                        backoff(
                            Duration::from_millis(cfg.backoff_base_ms),
                            Duration::from_millis(cfg.backoff_max_ms),
                            attempt,
                            unit_random(),
                        )
                    });
                    self.p.logger.log(LogLevel::Warn, || format!("batch of {n} events: {outcome:?}; retrying in {wait:?}"));
                    attempt += 1;
                    bump(&stats.retries);
                    if !self.sleep(wait) {
                        break false;
                    }
                }
            }
        };
        bump(&stats.batches);
        if delivered {
            stats.delivered.fetch_add(n as u64, Ordering::Relaxed);
        } else {
            stats.failed.fetch_add(n as u64, Ordering::Relaxed);
        }
        self.p.resolve(n);
    }

    /// Backoff sleep that a flush can shorten and a stop can end. False when stopping.
    /// A flush shortens it once, so one attempt happens before the flush's deadline; it does not
    /// turn the remaining backoff into a burst of retries against a struggling server.
    fn sleep(&mut self, wait: Duration) -> bool {
        let natural_end = Instant::now() + wait;
        loop {
            let now = Instant::now();
            let mut end = natural_end;
            let mut cut = false;
            if let Some(deadline) = self.flush_deadline {
                if deadline <= now {
                    // That flush has already returned TIMEOUT: back to the normal backoff.
                    self.flush_deadline = None;
                } else if !self.flush_cut_used {
                    let early = cut_for_deadline(deadline, now);
                    if early < end {
                        end = early;
                        cut = true;
                    }
                }
            }
            if now >= end {
                self.flush_cut_used |= cut;
                return true;
            }
            match self.control.recv_timeout(end - now) {
                Ok(msg) => {
                    self.on_control(msg);
                    if self.stopping {
                        return false;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.flush_cut_used |= cut;
                    return true;
                }
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    fn envelope(&self, joined: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(joined.len() + envelope_len(self.write_key_json.len()));
        body.extend_from_slice(b"{\"batch\":[");
        body.extend_from_slice(joined);
        body.extend_from_slice(b"],\"sentAt\":\"");
        format_timestamp(SystemTime::now(), &mut body);
        body.extend_from_slice(b"\",\"writeKey\":");
        body.extend_from_slice(self.write_key_json.as_bytes());
        body.push(b'}');
        body
    }
}

/// Bytes of `{"batch":[` `],"sentAt":"<24>","writeKey":<key>}` around the messages.
fn envelope_len(write_key_json_len: usize) -> usize {
    "{\"batch\":[".len() + "],\"sentAt\":\"".len() + 24 + "\",\"writeKey\":".len() + write_key_json_len + 1
}

/// When a flush's deadline is near, retry early enough that one attempt can finish before it.
fn cut_for_deadline(deadline: Instant, now: Instant) -> Instant {
    let remaining = deadline.saturating_duration_since(now);
    let margin = (remaining / 4).min(Duration::from_millis(500));
    deadline - margin
}
