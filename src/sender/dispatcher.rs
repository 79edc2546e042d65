//! The dispatcher: takes messages off the queue into the batch being formed and decides when it
//! leaves. A batch may leave once it holds `batch_size` messages; it must leave when its oldest
//! message has waited `flush_interval_ms`, on flush and on shutdown. It leaves only when a worker
//! is free (`max_in_flight`), no pause is in force and the request budget has a token — until
//! then it keeps filling, up to 500,000 bytes and 2,500 messages: under pressure batches grow
//! instead of requests multiplying. The dispatcher wakes on a timer or a nudge, never per event.
//!
//! With a spool (docs/design.md §5.1) the oldest spool file goes before the batch being formed,
//! and a batch that must leave but cannot be sent now (no worker free, a pause, an outage, older
//! files waiting, memory above half its bound) is written to the spool instead of waiting in
//! memory: events stay in memory, unwritten, only until their batch is due.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use super::pacing::cut_for_deadline;
use super::queue::Queued;
use super::worker::{self, Job};
use super::{envelope_len, resolve_dropped, Control, Shared};
use crate::config::{LogLevel, MAX_BATCH_BYTES, MAX_BATCH_SIZE};

/// The batch being formed.
struct Forming {
    messages: Vec<Queued>,
    bytes: u64,
    /// Sum of message sizes plus one comma between each.
    joined_len: usize,
    first_seq: u64,
    /// When the oldest message will have waited `flush_interval_ms`.
    due: Option<Instant>,
    /// A message that did not fit; it opens the next batch.
    carry: Option<Queued>,
    full: bool,
}

pub(super) struct Dispatcher {
    s: Arc<Shared>,
    rx: Receiver<Queued>,
    control: Receiver<Control>,
    forming: Forming,
    /// Room for messages in one request: 500,000 bytes minus the envelope.
    max_joined: usize,
    jobs: Option<Sender<Job>>,
    jobs_rx: Receiver<Job>,
    workers: usize,
    stopping: bool,
    /// The flush epoch and the instant its early dispatch during a pause is due (fixed once).
    flush_cut: Option<(u64, Instant)>,
    /// Likewise for the outage's probe: a flush gets one early try.
    probe_cut: Option<(u64, Instant)>,
    /// Serialized messages of a batch being written to the spool.
    spill_buffer: Vec<u8>,
}

/// What the dispatcher does after a turn.
enum Next {
    /// Something was started: look again at once.
    Again,
    /// Nothing more now: wait for a message or this instant.
    Wait(Instant),
    /// Stopping and nothing left.
    Done,
}

/// Why a request cannot start now.
#[derive(Clone, Copy, Debug)]
enum Blocked {
    /// Every worker is busy; a WorkerFree message says when one is free.
    Worker,
    /// The request budget (or the batch handed over before, not yet on the wire): soon.
    Token(Instant),
    /// A 429 / Retry-After pause.
    Pause(Instant),
}

impl Dispatcher {
    pub(super) fn new(s: Arc<Shared>, rx: Receiver<Queued>, control: Receiver<Control>) -> Dispatcher {
        let (jobs, jobs_rx) = unbounded();
        Dispatcher {
            max_joined: MAX_BATCH_BYTES - envelope_len(s.write_key_json.len()),
            forming: Forming { messages: Vec::new(), bytes: 0, joined_len: 0, first_seq: 0, due: None, carry: None, full: false },
            s,
            rx,
            control,
            jobs: Some(jobs),
            jobs_rx,
            workers: 0,
            stopping: false,
            flush_cut: None,
            probe_cut: None,
            spill_buffer: Vec::new(),
        }
    }

    pub(super) fn run(&mut self) {
        loop {
            if let Some(hook) = self.s.wake_hook.get() {
                hook();
            }
            while let Ok(msg) = self.control.try_recv() {
                self.on_control(msg);
            }
            self.fill();
            if self.stopping && self.spill_all() {
                // What is left at shutdown waits in the spool for the next process.
                break;
            }
            let now = Instant::now();
            let wake_at = match self.turn(now) {
                Next::Wait(at) => at,
                Next::Again => continue,
                Next::Done => break,
            };
            match self.control.recv_timeout(wake_at.saturating_duration_since(Instant::now())) {
                Ok(msg) => self.on_control(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.stopping = true,
            }
        }
        // Workers finish what they hold, then exit when the job channel closes.
        self.jobs = None;
    }

    /// Starts what may start now.
    fn turn(&mut self, now: Instant) -> Next {
        let blocked = self.blocked_until(now);
        let shared = Arc::clone(&self.s);
        let spool = shared.spool.as_deref();
        let backlog = !self.stopping && spool.is_some_and(|s| s.backlog() > 0);
        let failing = spool.is_some() && shared.outage.failing();
        let mut wake = now + self.s.config.flush_interval();
        // 1. Oldest first: a spool file before the batch being formed.
        if let (true, Err(Blocked::Token(at) | Blocked::Pause(at))) = (backlog, blocked) {
            // The next file goes when the budget (or the pause) allows, not at the next wake.
            wake = wake.min(at);
        }
        if backlog && blocked.is_ok() {
            if !failing {
                self.dispatch_file(false);
                return Next::Again;
            }
            let cut = self.probe_cut(now);
            match shared.outage.probe_due(now, cut) {
                Ok(()) => {
                    self.dispatch_file(true);
                    return Next::Again;
                }
                Err(Some(at)) => wake = wake.min(at),
                Err(None) => {}
            }
        }
        if self.forming.messages.is_empty() {
            return if self.stopping { Next::Done } else { Next::Wait(wake) };
        }
        // 2. The batch being formed.
        let must = self.must_leave(now);
        let may = must || self.forming.messages.len() >= self.s.config.batch_size;
        let behind = failing || backlog;
        if may && blocked.is_ok() && !behind {
            self.dispatch();
            return Next::Again;
        }
        let stuck = behind || matches!(blocked, Err(Blocked::Worker | Blocked::Pause(_)));
        if must && stuck && spool.is_some_and(|s| s.writable()) && self.spill() {
            return Next::Again;
        }
        if may && blocked.is_ok() {
            // The spool cannot take it: sent as without a spool.
            self.dispatch();
            return Next::Again;
        }
        Next::Wait(match (may, blocked) {
            // Blocked on a worker: a WorkerFree message wakes us; the timer is a backstop.
            (true, Err(Blocked::Worker)) | (true, Ok(())) => wake,
            (true, Err(Blocked::Token(at) | Blocked::Pause(at))) => wake.min(at),
            (false, _) => wake.min(self.forming.due.unwrap_or(now)),
        })
    }

    /// With a flush pending during an outage, when its one early probe may go.
    fn probe_cut(&mut self, now: Instant) -> Option<Instant> {
        let (deadline, epoch) = self.s.flush.pending(now)?;
        Some(match self.probe_cut {
            Some((e, at)) if e == epoch => at,
            _ => self.probe_cut.insert((epoch, cut_for_deadline(deadline, now))).1,
        })
    }

    fn on_control(&mut self, msg: Control) {
        match msg {
            Control::Wake => self.s.wake_pending.store(false, Ordering::Release),
            Control::WorkerFree | Control::Flush | Control::Backlog => {}
            Control::Stop => self.stopping = true,
        }
    }

    /// Moves queued messages into the forming batch until it is full.
    fn fill(&mut self) {
        let f = &mut self.forming;
        let interval = self.s.config.flush_interval();
        let now = Instant::now();
        let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let add = |f: &mut Forming, m: Queued| -> bool {
            let extra = if f.messages.is_empty() { m.size() } else { m.size() + 1 };
            if !f.messages.is_empty() && f.joined_len + extra > self.max_joined {
                f.carry = Some(m);
                f.full = true;
                return false;
            }
            // Age at first sight, so a wall-clock jump can neither hold a message forever nor
            // send it early by more than the interval.
            let age = Duration::from_millis((now_ms - m.at_ms()).clamp(0, interval.as_millis() as i64) as u64);
            let due = now + interval - age;
            f.due = Some(f.due.map_or(due, |d| d.min(due)));
            f.joined_len += extra;
            f.bytes += m.size() as u64;
            f.messages.push(m);
            if f.messages.len() >= MAX_BATCH_SIZE {
                f.full = true;
            }
            true
        };
        if let Some(m) = f.carry.take() {
            add(f, m);
        }
        if f.full {
            return;
        }
        let mut taken = self.s.taken.lock().unwrap_or_else(|p| p.into_inner());
        if f.messages.is_empty() {
            f.first_seq = *taken;
        }
        while !f.full {
            let Ok(m) = self.rx.try_recv() else { break };
            *taken += 1;
            if !add(f, m) {
                break;
            }
        }
    }

    /// True when the forming batch must leave now: it is full, due, flushed or shutting down, or
    /// (with a spool) memory is above half its bound.
    fn must_leave(&self, now: Instant) -> bool {
        let f = &self.forming;
        if f.messages.is_empty() {
            return false;
        }
        f.full
            || f.due.is_some_and(|d| now >= d)
            || f.first_seq < self.s.flush.upto.load(Ordering::Acquire)
            || self.stopping
            || (self.s.spool.is_some() && self.s.occupancy.above_half())
    }

    /// Ok when a request may start now; else why not.
    fn blocked_until(&mut self, now: Instant) -> Result<(), Blocked> {
        if self.s.busy.load(Ordering::Acquire) >= self.s.config.max_in_flight {
            return Err(Blocked::Worker);
        }
        if self.s.awaiting_token.load(Ordering::Acquire) > 0 {
            // The last batch handed over is still waiting for its token; this one keeps growing.
            return Err(Blocked::Token(self.s.budget.peek(now).err().unwrap_or(now + Duration::from_millis(1))));
        }
        if !self.stopping {
            if let Some(until) = self.s.pause.until(now) {
                // A flush gets its batches out before its deadline even during a long pause.
                let cut = self.s.flush.pending(now).map(|(deadline, epoch)| match self.flush_cut {
                    Some((e, at)) if e == epoch => at,
                    _ => self.flush_cut.insert((epoch, cut_for_deadline(deadline, now))).1,
                });
                match cut {
                    Some(at) if at <= now => {}
                    Some(at) => return Err(Blocked::Pause(at.min(until))),
                    None => return Err(Blocked::Pause(until)),
                }
            }
        }
        self.s.budget.peek(now).map_err(Blocked::Token)
    }

    /// Hands the forming batch to a worker, starting one when all are busy.
    fn dispatch(&mut self) {
        let f = &mut self.forming;
        let messages = std::mem::take(&mut f.messages);
        let job = Job { first_seq: f.first_seq, bytes: f.bytes, messages, file: None, probe: false };
        let end = job.first_seq + job.messages.len() as u64;
        f.first_seq = end;
        f.bytes = 0;
        f.joined_len = 0;
        f.due = None;
        f.full = false;
        self.s.progress.dispatched(job.first_seq, end);
        self.hand_over(job);
    }

    /// Hands the oldest spool file to a worker (`probe`: one attempt, during an outage).
    fn dispatch_file(&mut self, probe: bool) {
        let Some(claim) = self.s.spool.as_ref().and_then(|s| s.claim_oldest()) else { return };
        if probe {
            self.s.outage.probe_started();
        }
        self.s.draining.fetch_add(1, Ordering::AcqRel);
        self.hand_over(Job { messages: Vec::new(), first_seq: 0, bytes: 0, file: Some(claim), probe });
    }

    /// Writes the forming batch to the spool instead of keeping it in memory. False (the batch
    /// unchanged) when the spool cannot take it.
    fn spill(&mut self) -> bool {
        let Some(spool) = self.s.spool.clone() else { return false };
        let f = &mut self.forming;
        self.spill_buffer.clear();
        for (i, m) in f.messages.iter().enumerate() {
            if i > 0 {
                self.spill_buffer.push(b',');
            }
            m.write_to(&self.s.config, &mut self.spill_buffer);
        }
        let n = f.messages.len();
        let written = spool.write(&self.spill_buffer, n as u32, Some(f.first_seq), false);
        resolve_dropped(&self.s, &written.dropped_own);
        if written.key.is_none() {
            return false;
        }
        let (first, end) = (f.first_seq, f.first_seq + n as u64);
        self.s.progress.spilled(first, end);
        self.s.occupancy.release(n as u64, f.bytes);
        spool.counters.spooled.fetch_add(n as u64, Ordering::Relaxed);
        for m in f.messages.drain(..) {
            if let Some(buffer) = m.into_buffer() {
                let _ = self.s.spare_tx.try_send(buffer);
            }
        }
        f.first_seq = end;
        f.bytes = 0;
        f.joined_len = 0;
        f.due = None;
        f.full = false;
        true
    }

    /// At shutdown: everything still in memory goes to the spool. False when the spool cannot
    /// take it (what is left is then sent once, as without a spool).
    fn spill_all(&mut self) -> bool {
        if !self.s.spool.as_ref().is_some_and(|s| s.writable()) {
            return false;
        }
        loop {
            self.fill();
            if self.forming.messages.is_empty() {
                return true;
            }
            if !self.spill() {
                return false;
            }
        }
    }

    fn hand_over(&mut self, job: Job) {
        self.s.awaiting_token.fetch_add(1, Ordering::AcqRel);
        let busy = self.s.busy.fetch_add(1, Ordering::AcqRel) + 1;
        if busy > self.workers {
            self.spawn_worker();
        }
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }

    fn spawn_worker(&mut self) {
        let (s, jobs) = (Arc::clone(&self.s), self.jobs_rx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("flagwire-send-{}", self.workers))
            .spawn(move || worker::run(s, jobs));
        match spawned {
            Ok(_) => self.workers += 1,
            // The job waits in the channel for a worker that exists (there is at least one
            // unless this is the first, and then the next dispatch tries again).
            Err(e) => self.s.logger.log(LogLevel::Error, || format!("cannot start a sender worker: {e}")),
        }
    }
}
