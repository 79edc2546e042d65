//! A sender worker: serializes one batch, sends it with retries, and — when the receiver refuses
//! it as a bad request — splits it so only the offending message fails. Up to `max_in_flight`
//! workers run at once, each with its own request in flight over the shared keep-alive pool.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Receiver;

use super::pacing::cut_for_deadline;
use super::queue::Queued;
use super::{Control, Shared};
use crate::config::LogLevel;
use crate::retry::{backoff, judge, unit_random, Verdict};
use crate::stats::bump;
use crate::transport::AttemptOutcome;

/// Buffers kept for reuse, and the largest one worth keeping.
const SPARE_MAX_CAPACITY: usize = 2048;

/// A batch handed to a worker: messages `first_seq..first_seq + messages.len()` in queue order.
pub struct Job {
    pub messages: Vec<Queued>,
    pub first_seq: u64,
    pub bytes: u64,
}

/// How a request for some of the batch's messages ended.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Delivered,
    /// 400 or 413: the receiver refused the content; splitting may isolate the culprit.
    Refused(u16),
    /// Another non-retryable answer, retries exhausted, or shutdown.
    Failed,
}

/// How a sleep ended.
#[derive(Debug, PartialEq, Eq)]
enum Woke {
    Elapsed,
    /// Cut short by a flush: this is the flush's one early attempt.
    Cut,
    Stopping,
}

struct Tally {
    delivered: u64,
    failed: u64,
    isolated: u64,
}

pub(super) struct Worker {
    shared: Arc<Shared>,
    joined: Vec<u8>,
    /// End offset in `joined` of each message.
    ends: Vec<usize>,
    tally: Tally,
    /// The flush epoch whose one early retry this worker has used.
    cut_epoch: u64,
    /// This worker's batch counts in `Shared::awaiting_token` until its first token.
    awaiting_token: bool,
}

pub(super) fn run(shared: Arc<Shared>, jobs: Receiver<Job>) {
    let mut worker = Worker {
        shared,
        joined: Vec::new(),
        ends: Vec::new(),
        tally: Tally { delivered: 0, failed: 0, isolated: 0 },
        cut_epoch: u64::MAX,
        awaiting_token: false,
    };
    while let Ok(job) = jobs.recv() {
        let (n, first_seq, bytes) = (job.messages.len() as u64, job.first_seq, job.bytes);
        worker.tally = Tally { delivered: 0, failed: 0, isolated: 0 };
        worker.awaiting_token = true;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.process(job)));
        worker.release_dispatcher();
        let s = &worker.shared;
        if outcome.is_err() {
            // A bug must not leave a flush waiting forever: what was not resolved counts as failed.
            s.logger.log(LogLevel::Error, || "sender worker panicked; its unsent events count as failed".into());
            worker.tally.failed = n - worker.tally.delivered;
        }
        s.stats.delivered.fetch_add(worker.tally.delivered, Ordering::Relaxed);
        s.stats.failed.fetch_add(worker.tally.failed, Ordering::Relaxed);
        s.stats.isolated.fetch_add(worker.tally.isolated, Ordering::Relaxed);
        bump(&s.stats.batches);
        s.occupancy.release(n, bytes);
        s.busy.fetch_sub(1, Ordering::AcqRel);
        s.progress.resolved(first_seq);
        let _ = s.control.send(Control::WorkerFree);
    }
}

impl Worker {
    fn process(&mut self, job: Job) {
        let s = Arc::clone(&self.shared);
        self.joined.clear();
        self.ends.clear();
        let debug = s.logger.enabled(LogLevel::Debug);
        for (i, m) in job.messages.into_iter().enumerate() {
            if i > 0 {
                self.joined.push(b',');
            }
            let start = self.joined.len();
            m.write_to(&s.config, &mut self.joined);
            // The size was counted at the call by the same writer; a mismatch would be a bug.
            debug_assert_eq!(self.joined.len() - start, m.size(), "counted size differs from serialized size");
            if debug {
                s.logger.log(LogLevel::Debug, || format!("event: {}", String::from_utf8_lossy(&self.joined[start..])));
            }
            self.ends.push(self.joined.len());
            if let Some(buffer) = m.into_buffer() {
                if buffer.capacity() <= SPARE_MAX_CAPACITY {
                    let _ = s.spare_tx.try_send(buffer);
                }
            }
        }
        let n = self.ends.len();
        let all: Vec<usize> = (0..n).collect();
        match self.send(&all) {
            Sent::Delivered => self.tally.delivered += n as u64,
            Sent::Refused(code) => {
                s.logger.log(LogLevel::Warn, || format!("batch of {n} events refused ({code}); splitting it to isolate the cause"));
                self.isolate(all);
            }
            Sent::Failed => self.tally.failed += n as u64,
        }
    }

    /// `set` (message indexes) is known to hold a message the receiver refuses: a binary search
    /// sends the first half of the suspects; delivered, the culprit is in the second half; refused,
    /// it is in the first, and the second half is kept aside. One bad message among n costs at
    /// most ⌈log2 n⌉ probes, one request to confirm it alone (unless the last probe was it alone)
    /// and one for what was kept aside; several bad ones are found the same way, each failing alone.
    fn isolate(&mut self, set: Vec<usize>) {
        let mut suspects = set;
        let mut aside: Vec<usize> = Vec::new();
        let mut confirmed = None;
        while suspects.len() > 1 {
            let second = suspects.split_off(suspects.len() / 2);
            match self.send(&suspects) {
                Sent::Delivered => {
                    self.tally.delivered += suspects.len() as u64;
                    suspects = second;
                }
                Sent::Refused(code) => {
                    aside.extend(second);
                    if suspects.len() == 1 {
                        confirmed = Some(code);
                    }
                }
                Sent::Failed => {
                    // Not a refusal (retries exhausted, shutdown): the culprit is not located.
                    self.tally.failed += suspects.len() as u64;
                    aside.extend(second);
                    suspects.clear();
                }
            }
        }
        if let Some(&culprit) = suspects.first() {
            // Confirmed alone before it is dropped: a 413 (size) or a one-off 400 must not cost
            // an innocent message.
            let alone = match confirmed {
                Some(code) => Sent::Refused(code),
                None => self.send(&[culprit]),
            };
            match alone {
                Sent::Delivered => self.tally.delivered += 1,
                Sent::Refused(code) => {
                    self.tally.failed += 1;
                    self.tally.isolated += 1;
                    let (a, b) = self.span(culprit);
                    let text = String::from_utf8_lossy(&self.joined[a..b]).chars().take(300).collect::<String>();
                    self.shared.logger.log(LogLevel::Error, || format!("event refused by the receiver ({code}) and dropped: {text}"));
                }
                Sent::Failed => self.tally.failed += 1,
            }
        }
        if !aside.is_empty() {
            match self.send(&aside) {
                Sent::Delivered => self.tally.delivered += aside.len() as u64,
                Sent::Refused(_) => self.isolate(aside),
                Sent::Failed => self.tally.failed += aside.len() as u64,
            }
        }
    }

    /// Byte range of message `i` in `joined`.
    fn span(&self, i: usize) -> (usize, usize) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        (start, self.ends[i])
    }

    /// The messages `set` joined by commas (one contiguous slice when they are consecutive).
    fn joined_for(&self, set: &[usize]) -> std::borrow::Cow<'_, [u8]> {
        let consecutive = set.windows(2).all(|w| w[1] == w[0] + 1);
        match (set.first(), set.last()) {
            (Some(&first), Some(&last)) if consecutive => std::borrow::Cow::Borrowed(&self.joined[self.span(first).0..self.span(last).1]),
            _ => {
                let mut out = Vec::new();
                for (k, &i) in set.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    let (a, b) = self.span(i);
                    out.extend_from_slice(&self.joined[a..b]);
                }
                std::borrow::Cow::Owned(out)
            }
        }
    }

    /// Sends the messages `set` with retries. Every attempt respects the shared pause and takes a
    /// budget token right before it goes on the wire.
    fn send(&mut self, set: &[usize]) -> Sent {
        let sent = self.send_attempts(set);
        // However it ended, this batch no longer holds the dispatcher back.
        self.release_dispatcher();
        sent
    }

    /// The batch's first token is taken (or it gave up): the dispatcher may hand over the next.
    fn release_dispatcher(&mut self) {
        if std::mem::take(&mut self.awaiting_token) {
            self.shared.awaiting_token.fetch_sub(1, Ordering::AcqRel);
            let _ = self.shared.control.send(Control::WorkerFree);
        }
    }

    fn send_attempts(&mut self, set: &[usize]) -> Sent {
        let s = Arc::clone(&self.shared);
        let cfg = &s.config;
        let n = set.len();
        let mut attempt: u32 = 0;
        let mut early = false;
        loop {
            if !early && !self.wait_out_pause() {
                return Sent::Failed;
            }
            let payload = s.transport.encode(&super::envelope(&self.joined_for(set), &s.write_key_json));
            if !self.take_token() {
                return Sent::Failed;
            }
            self.release_dispatcher();
            let started = Instant::now();
            let sent = s.transport.send(&payload, attempt);
            let outcome = sent.outcome;
            s.stats.requests.fetch_add(sent.requests.into(), Ordering::Relaxed);
            s.stats.bytes_sent.fetch_add(sent.bytes_sent as u64, Ordering::Relaxed);
            match judge(&outcome, SystemTime::now()) {
                Verdict::Delivered => {
                    s.pause.accepted(started);
                    return Sent::Delivered;
                }
                Verdict::GiveUp => {
                    if let AttemptOutcome::Status { code: code @ (400 | 413), .. } = outcome {
                        return Sent::Refused(code);
                    }
                    s.logger.log(LogLevel::Error, || format!("batch of {n} events refused ({outcome:?}); not retried"));
                    return Sent::Failed;
                }
                Verdict::Retry { server_wait } => {
                    if attempt >= cfg.max_retries || s.stopping.load(Ordering::Acquire) {
                        s.logger.log(LogLevel::Error, || {
                            format!("batch of {n} events failed after {} attempts ({outcome:?})", attempt + 1)
                        });
                        return Sent::Failed;
                    }
                    let throttled = matches!(outcome, AttemptOutcome::Status { code: 429, .. });
                    let wait = server_wait.unwrap_or_else(|| {
                        backoff(Duration::from_millis(cfg.backoff_base_ms), Duration::from_millis(cfg.backoff_max_ms), attempt, unit_random())
                    });
                    if server_wait.is_some() || throttled {
                        // Segment throttles the workspace, not this connection: everyone waits.
                        s.pause.extend(Instant::now() + wait);
                    }
                    s.logger.log(LogLevel::Warn, || format!("batch of {n} events: {outcome:?}; retrying in {wait:?}"));
                    attempt += 1;
                    bump(&s.stats.retries);
                    match self.sleep(wait, true) {
                        Woke::Stopping => return Sent::Failed,
                        woke => early = woke == Woke::Cut,
                    }
                }
            }
        }
    }

    /// Waits for a budget token; false when shutting down.
    fn take_token(&mut self) -> bool {
        loop {
            match self.shared.budget.try_take(Instant::now()) {
                Ok(()) => return true,
                Err(at) => {
                    if self.sleep(at.saturating_duration_since(Instant::now()), false) == Woke::Stopping {
                        return false;
                    }
                }
            }
        }
    }

    /// Waits until the shared pause (429 / Retry-After) ends; a flush may cut it once.
    fn wait_out_pause(&mut self) -> bool {
        while let Some(until) = self.shared.pause.until(Instant::now()) {
            match self.sleep(until.saturating_duration_since(Instant::now()), true) {
                Woke::Stopping => return false,
                // This flush's early attempt: go now even though the pause is still on.
                Woke::Cut => return true,
                Woke::Elapsed => {}
            }
        }
        true
    }

    /// Sleeps `wait`, ending early on shutdown (false). When `cuttable`, a pending flush shortens
    /// it once so that one attempt happens before the flush's deadline; it does not turn the rest
    /// of the backoff into a burst of retries against a struggling server.
    fn sleep(&mut self, wait: Duration, cuttable: bool) -> Woke {
        let s = Arc::clone(&self.shared);
        let natural_end = Instant::now() + wait;
        // The early end is fixed when the flush is first seen: recomputing it from a later `now`
        // would keep moving it towards the deadline.
        let mut cut: Option<(u64, Instant)> = None;
        loop {
            let generation = s.signal.generation();
            if s.stopping.load(Ordering::Acquire) {
                return Woke::Stopping;
            }
            let now = Instant::now();
            if cuttable {
                if let Some((deadline, epoch)) = s.flush.pending(now) {
                    if epoch != self.cut_epoch && cut.is_none_or(|(e, _)| e != epoch) {
                        cut = Some((epoch, cut_for_deadline(deadline, now)));
                    }
                }
            }
            let (end, cut_epoch) = match cut {
                Some((epoch, early)) if early < natural_end => (early, Some(epoch)),
                _ => (natural_end, None),
            };
            if now >= end {
                return match cut_epoch {
                    Some(epoch) => {
                        self.cut_epoch = epoch;
                        Woke::Cut
                    }
                    None => Woke::Elapsed,
                };
            }
            s.signal.wait(generation, end);
        }
    }
}
