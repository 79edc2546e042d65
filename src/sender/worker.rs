//! A sender worker: serializes one batch, sends it with retries, and — when the receiver refuses
//! it as a bad request — splits it so only the offending message fails. Up to `max_in_flight`
//! workers run at once, each with its own request in flight over the shared keep-alive pool.
//!
//! With a spool (docs/design.md §5.1) a worker writes its batch to a file before the first
//! attempt and removes it after the 2xx; what it cannot deliver now (retries ran out on retryable
//! errors, shutdown) stays on disk instead of failing. It also sends files drained from the spool.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Receiver;

use super::pacing::cut_for_deadline;
use super::queue::Queued;
use super::{Control, Shared};
use crate::config::LogLevel;
use crate::retry::{backoff, judge, unit_random, Verdict};
use crate::spool::{message_ends, Claim};
use crate::stats::bump;
use crate::transport::AttemptOutcome;

/// Buffers kept for reuse, and the largest one worth keeping.
const SPARE_MAX_CAPACITY: usize = 2048;

/// A batch handed to a worker: messages `first_seq..first_seq + messages.len()` in queue order,
/// or a spool file (`file`; then `messages` is empty).
pub struct Job {
    pub messages: Vec<Queued>,
    pub first_seq: u64,
    pub bytes: u64,
    pub file: Option<Claim>,
    /// One attempt only: the probe of an outage (`outage.rs`).
    pub probe: bool,
}

/// How a request for some of the batch's messages ended.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Delivered,
    /// 400 or 413: the receiver refused the content; splitting may isolate the culprit.
    Refused(u16),
    /// Another non-retryable answer: given up for good.
    Failed,
    /// Retries ran out on retryable errors, or shutdown: kept in the spool when there is one.
    Deferred,
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

/// Largest request buffer a worker keeps for its next request (gzip'd bodies are ~40 KB).
const WIRE_KEEP_BYTES: usize = 128 * 1024;

pub(super) struct Worker {
    shared: Arc<Shared>,
    joined: Vec<u8>,
    /// End offset in `joined` of each message (for a spool file: parsed only when splitting).
    ends: Vec<usize>,
    ends_known: bool,
    /// Messages in the batch.
    count: usize,
    tally: Tally,
    /// Messages (indexes) not delivered now but not given up on: retries ran out, or shutdown.
    deferred: Vec<usize>,
    /// The batch's spool file: written ahead, or the file being drained.
    file: Option<crate::spool::Claim>,
    /// The batch's first sequence number when its events are this process's own.
    own_seq: Option<u64>,
    /// The request body as it goes on the wire, and the envelope's tail: reused by every request.
    wire: Vec<u8>,
    tail: Vec<u8>,
    probe: bool,
    /// The batch is to be written to the spool before its first attempt goes out.
    write_ahead: bool,
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
        ends_known: false,
        count: 0,
        tally: Tally { delivered: 0, failed: 0, isolated: 0 },
        deferred: Vec::new(),
        file: None,
        own_seq: None,
        wire: Vec::new(),
        tail: Vec::new(),
        probe: false,
        write_ahead: false,
        cut_epoch: u64::MAX,
        awaiting_token: false,
    };
    while let Ok(job) = jobs.recv() {
        let (n, first_seq, bytes, drained) = (job.messages.len(), job.first_seq, job.bytes, job.file);
        worker.tally = Tally { delivered: 0, failed: 0, isolated: 0 };
        worker.deferred.clear();
        worker.count = n;
        worker.file = drained;
        worker.own_seq = match drained {
            Some(claim) => claim.own_seq,
            None => Some(first_seq),
        };
        worker.probe = job.probe;
        worker.write_ahead = false;
        worker.awaiting_token = true;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.process(job)));
        worker.release_dispatcher();
        if outcome.is_err() {
            // A bug must not leave a flush waiting forever: what was not resolved counts as failed.
            worker.shared.logger.log(LogLevel::Error, || "sender worker panicked; its unsent events count as failed".into());
            worker.tally.failed = (worker.count as u64).saturating_sub(worker.tally.delivered);
            worker.deferred.clear();
        }
        worker.finish(drained.is_some(), n as u64, bytes);
    }
}

impl Worker {
    /// Books the batch's outcome: counters, its spool file, flush progress, the dispatcher.
    fn finish(&mut self, drained: bool, in_memory: u64, bytes: u64) {
        let s = Arc::clone(&self.shared);
        let kept = !self.deferred.is_empty() && self.keep_deferred();
        if !kept {
            // Without a spool (or when it could not take them), deferred events fail, as always.
            self.tally.failed += self.deferred.len() as u64;
            if let (Some(spool), Some(file)) = (&s.spool, self.file) {
                spool.remove(&file.key);
            }
        }
        s.stats.delivered.fetch_add(self.tally.delivered, Ordering::Relaxed);
        s.stats.failed.fetch_add(self.tally.failed, Ordering::Relaxed);
        s.stats.isolated.fetch_add(self.tally.isolated, Ordering::Relaxed);
        bump(&s.stats.batches);
        if let Some(spool) = &s.spool {
            if drained {
                spool.counters.unspooled.fetch_add(self.tally.delivered, Ordering::Relaxed);
            } else if kept {
                spool.counters.spooled.fetch_add(self.deferred.len() as u64, Ordering::Relaxed);
            }
        }
        if let Some(seq) = self.own_seq {
            if kept {
                s.progress.spooled(seq);
            } else {
                s.progress.resolved(seq);
            }
        }
        if self.probe {
            s.outage.probe_ended();
        }
        if drained {
            s.draining.fetch_sub(1, Ordering::AcqRel);
        }
        s.occupancy.release(in_memory, bytes);
        s.busy.fetch_sub(1, Ordering::AcqRel);
        let _ = s.control.send(Control::WorkerFree);
    }

    /// Puts the deferred messages in the spool: the batch's file as it is when it holds exactly
    /// them, else a new file with just them. False when there is no spool or it cannot write.
    fn keep_deferred(&mut self) -> bool {
        let s = Arc::clone(&self.shared);
        let Some(spool) = &s.spool else { return false };
        let all = self.deferred.len() == self.count;
        if let (Some(file), true) = (self.file, all) {
            spool.release(&file.key);
            return true;
        }
        let subset = self.joined_for(&self.deferred).into_owned();
        let written = spool.write(&subset, self.deferred.len() as u32, self.own_seq, false);
        super::resolve_dropped(&s, &written.dropped_own);
        match (written.key, self.file) {
            (Some(_), Some(old)) => {
                spool.remove(&old.key);
                true
            }
            (Some(_), None) => true,
            // The whole file again rather than nothing: the delivered part comes back as
            // duplicates with the same messageIds, which Segment collapses.
            (None, Some(old)) => {
                spool.release(&old.key);
                true
            }
            (None, None) => false,
        }
    }

    fn process(&mut self, job: Job) {
        if job.file.is_some() {
            return self.process_file();
        }
        let s = Arc::clone(&self.shared);
        self.joined.clear();
        self.ends.clear();
        self.ends_known = true;
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
        // Written ahead of the first attempt, once its budget token is taken (`send_attempts`):
        // the dispatcher hands over the next batch meanwhile, so writes (and syncs) overlap.
        self.write_ahead = s.spool.is_some();
        self.send_batch();
    }

    /// Writes the whole batch to the spool: from here a crash cannot lose these events.
    fn write_ahead(&mut self) {
        let s = Arc::clone(&self.shared);
        let Some(spool) = &s.spool else { return };
        let written = spool.write(&self.joined, self.count as u32, self.own_seq, true);
        super::resolve_dropped(&s, &written.dropped_own);
        if let (Some(key), Some(seq)) = (written.key, self.own_seq) {
            s.progress.written(seq);
            self.file = Some(Claim { key, events: self.count as u32, own_seq: self.own_seq });
        }
    }

    /// A file from the spool: read and checked, then sent like any batch.
    fn process_file(&mut self) {
        let s = Arc::clone(&self.shared);
        let (Some(spool), Some(claim)) = (&s.spool, self.file) else { return };
        let Some((content, range)) = spool.read(&claim) else {
            // Torn or corrupt: counted and removed by the spool; nothing to send.
            self.file = None;
            self.count = 0;
            return;
        };
        self.joined = content;
        self.joined.truncate(range.end);
        self.joined.drain(..range.start);
        self.ends.clear();
        self.ends_known = false;
        self.count = claim.events as usize;
        self.send_batch();
    }

    fn send_batch(&mut self) {
        let n = self.count;
        let all: Vec<usize> = (0..n).collect();
        match self.send(&all) {
            Sent::Delivered => self.tally.delivered += n as u64,
            Sent::Refused(code) => {
                self.shared.logger.log(LogLevel::Warn, || format!("batch of {n} events refused ({code}); splitting it to isolate the cause"));
                if self.know_ends() {
                    // A spool file's count is its content's (its name said `n`).
                    self.isolate((0..self.count).collect());
                } else {
                    self.shared.logger.log(LogLevel::Error, || format!("a spool file of {n} events cannot be split: dropped"));
                    self.tally.failed += n as u64;
                }
            }
            Sent::Failed => self.tally.failed += n as u64,
            Sent::Deferred => self.deferred.extend(all),
        }
    }

    /// Message boundaries of a spool file, parsed on demand.
    fn know_ends(&mut self) -> bool {
        if !self.ends_known {
            match message_ends(&self.joined) {
                Some(ends) => {
                    self.count = ends.len();
                    self.ends = ends;
                    self.ends_known = true;
                }
                None => return false,
            }
        }
        true
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
                    // Not a refusal: the culprit is not located.
                    self.tally.failed += suspects.len() as u64;
                    aside.extend(second);
                    suspects.clear();
                }
                Sent::Deferred => {
                    // Retries ran out, or shutdown: these wait (in the spool, if any).
                    self.deferred.append(&mut suspects);
                    aside.extend(second);
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
                Sent::Deferred => self.deferred.push(culprit),
            }
        }
        if !aside.is_empty() {
            match self.send(&aside) {
                Sent::Delivered => self.tally.delivered += aside.len() as u64,
                Sent::Refused(_) => self.isolate(aside),
                Sent::Failed => self.tally.failed += aside.len() as u64,
                Sent::Deferred => self.deferred.extend(aside),
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
        if set.len() == self.count && set.first() == Some(&0) {
            // The whole batch (all a spool file needs unless it is split).
            return std::borrow::Cow::Borrowed(&self.joined);
        }
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

    /// Keeps a request buffer for the next request when it is small (a gzip'd body); an
    /// uncompressed 500 KB one is not worth holding per idle worker.
    fn keep_wire(&mut self, wire: Vec<u8>) {
        if wire.capacity() <= WIRE_KEEP_BYTES {
            self.wire = wire;
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
        let max_retries = if self.probe { 0 } else { cfg.max_retries };
        loop {
            if !early && !self.wait_out_pause() {
                return Sent::Deferred;
            }
            let mut wire = std::mem::take(&mut self.wire);
            super::envelope_tail(&s.write_key_json, &mut self.tail);
            s.transport.encode_into(&[super::ENVELOPE_HEAD, &self.joined_for(set), &self.tail], &mut wire);
            if !self.take_token() {
                self.keep_wire(wire);
                return Sent::Deferred;
            }
            self.release_dispatcher();
            if std::mem::take(&mut self.write_ahead) {
                // The first attempt is always the whole batch.
                self.write_ahead();
            }
            let started = Instant::now();
            let sent = s.transport.send(&wire, attempt);
            self.keep_wire(wire);
            let outcome = sent.outcome;
            s.stats.requests.fetch_add(sent.requests.into(), Ordering::Relaxed);
            s.stats.bytes_sent.fetch_add(sent.bytes_sent as u64, Ordering::Relaxed);
            match judge(&outcome, SystemTime::now()) {
                Verdict::Delivered => {
                    s.pause.accepted(started);
                    self.answered();
                    return Sent::Delivered;
                }
                Verdict::GiveUp => {
                    if let AttemptOutcome::Status { code, .. } = outcome {
                        // The receiver is up and answering, however it answered.
                        self.answered();
                        if code == 400 || code == 413 {
                            return Sent::Refused(code);
                        }
                    }
                    s.logger.log(LogLevel::Error, || format!("batch of {n} events refused ({outcome:?}); not retried"));
                    return Sent::Failed;
                }
                Verdict::Retry { server_wait } => {
                    let stopping = s.stopping.load(Ordering::Acquire);
                    if attempt >= max_retries || stopping {
                        let Some(spool) = &s.spool else {
                            s.logger.log(LogLevel::Error, || format!("batch of {n} events failed after {} attempts ({outcome:?})", attempt + 1));
                            return Sent::Deferred;
                        };
                        let (base, max) = (Duration::from_millis(cfg.backoff_base_ms), Duration::from_millis(cfg.backoff_max_ms));
                        if !stopping && s.outage.failed(Instant::now(), base, max) {
                            s.logger.log(LogLevel::Warn, || {
                                format!("the receiver is failing ({outcome:?}): new batches wait in the spool ({}), one probe at a time until it answers", spool.root_display())
                            });
                        }
                        // Each probe's failure is expected during an outage: not a warning.
                        let level = if self.probe { LogLevel::Debug } else { LogLevel::Warn };
                        s.logger.log(level, || format!("batch of {n} events failed after {} attempts ({outcome:?}); kept in the spool", attempt + 1));
                        return Sent::Deferred;
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
                        Woke::Stopping => return Sent::Deferred,
                        woke => early = woke == Woke::Cut,
                    }
                }
            }
        }
    }

    /// The receiver answered: ends an outage, if there was one.
    fn answered(&self) {
        let s = &self.shared;
        if s.outage.answered() {
            let backlog = s.spool.as_ref().map_or(0, |sp| sp.size().0);
            s.logger.log(LogLevel::Info, || format!("the receiver answers again: sending the spool's {backlog} files, oldest first"));
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
