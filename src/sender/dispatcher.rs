//! The dispatcher: takes messages off the queue into the batch being formed and decides when it
//! leaves. A batch may leave once it holds `batch_size` messages; it must leave when its oldest
//! message has waited `flush_interval_ms`, on flush and on shutdown. It leaves only when a worker
//! is free (`max_in_flight`), no pause is in force and the request budget has a token — until
//! then it keeps filling, up to 500,000 bytes and 2,500 messages: under pressure batches grow
//! instead of requests multiplying. The dispatcher wakes on a timer or a nudge, never per event.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use super::pacing::cut_for_deadline;
use super::queue::Queued;
use super::worker::{self, Job};
use super::{envelope_len, Control, Shared};
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
            let now = Instant::now();
            let wake_at = if self.must_or_may_leave(now) {
                match self.blocked_until(now) {
                    Ok(()) => {
                        self.dispatch();
                        continue;
                    }
                    // Blocked on a worker: a WorkerFree message wakes us; the timer is a backstop.
                    Err(None) => now + self.s.config.flush_interval(),
                    Err(Some(at)) => at,
                }
            } else if self.forming.messages.is_empty() {
                if self.stopping {
                    break;
                }
                now + self.s.config.flush_interval()
            } else {
                self.forming.due.unwrap_or(now)
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

    fn on_control(&mut self, msg: Control) {
        match msg {
            Control::Wake => self.s.wake_pending.store(false, Ordering::Release),
            Control::WorkerFree | Control::Flush => {}
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

    /// True when the forming batch may leave now (or must, at its deadline, flush or shutdown).
    fn must_or_may_leave(&self, now: Instant) -> bool {
        let f = &self.forming;
        if f.messages.is_empty() {
            return false;
        }
        f.full
            || f.messages.len() >= self.s.config.batch_size
            || f.due.is_some_and(|d| now >= d)
            || f.first_seq < self.s.flush.upto.load(Ordering::Acquire)
            || self.stopping
    }

    /// Ok when a request may start now; else when to look again (None: when a worker is free).
    fn blocked_until(&mut self, now: Instant) -> Result<(), Option<Instant>> {
        if self.s.busy.load(Ordering::Acquire) >= self.s.config.max_in_flight {
            return Err(None);
        }
        if self.s.awaiting_token.load(Ordering::Acquire) > 0 {
            // The last batch handed over is still waiting for its token; this one keeps growing.
            return Err(self.s.budget.peek(now).err().or(Some(now + Duration::from_millis(1))));
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
                    Some(at) => return Err(Some(at.min(until))),
                    None => return Err(Some(until)),
                }
            }
        }
        self.s.budget.peek(now).map_err(Some)
    }

    /// Hands the forming batch to a worker, starting one when all are busy.
    fn dispatch(&mut self) {
        let f = &mut self.forming;
        let messages = std::mem::take(&mut f.messages);
        let job = Job { first_seq: f.first_seq, bytes: f.bytes, messages };
        let end = job.first_seq + job.messages.len() as u64;
        f.first_seq = end;
        f.bytes = 0;
        f.joined_len = 0;
        f.due = None;
        f.full = false;
        self.s.progress.dispatched(job.first_seq, end);
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
