//! From a classified decision to a queued Experiment Viewed event, on the caller's thread and for
//! held decisions released later: by the next datafile, by the sender's wake once their timeout
//! passed, or by a flush. One per process, like the pipeline: a forked child gets a fresh one (the
//! parent resolves what it held).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

use crate::classify::{classify, Classification, ExposureIds, RuleType};
use crate::config::{Config, LogLevel};
use crate::counts::ExposureCounts;
use crate::datafile::DatafileIndex;
use crate::decision::Decision;
use crate::dedupe::{DedupeTable, Seen};
use crate::event::PackedExposure;
use crate::hold::{Held, HoldBuffer, OwnedDecision};
use crate::log::Logger;
use crate::sender::{Pipeline, PushError, Queued};
use crate::stats::bump;

pub struct Exposures {
    config: Arc<Config>,
    logger: Logger,
    counts: ExposureCounts,
    hold: Mutex<HoldBuffer>,
    /// `hold.len()`, readable without the lock: the sender's wake checks it on every wake.
    held_now: AtomicUsize,
    /// The opt-in dedupe window's table (`dedupe.max_entries` > 0).
    dedupe: Option<DedupeTable>,
}

/// What became of a decision offered to the hold buffer.
pub enum Holding {
    Held,
    /// The buffer is full: the caller resolves the decision with the fallback rule now.
    Full,
    /// The datafile changed while the decision was classified: classify it again.
    Retry,
}

/// Why held decisions are released.
#[derive(Clone, Copy)]
enum Release {
    Datafile,
    Timeout,
    Flush,
}

impl Exposures {
    pub fn new(config: Arc<Config>, logger: Logger) -> Exposures {
        Exposures {
            counts: ExposureCounts::new(config.max_exposure_counters),
            hold: Mutex::new(HoldBuffer::new(config.hold_max_events, config.hold_max_bytes)),
            held_now: AtomicUsize::new(0),
            dedupe: config.dedupe.as_ref().filter(|d| d.max_entries > 0).map(|d| DedupeTable::new(d.window_ms, d.max_entries)),
            config,
            logger,
        }
    }

    /// A fresh one for `pipeline`, whose sender then releases expired held decisions on each wake.
    pub fn for_pipeline(config: &Arc<Config>, logger: &Logger, pipeline: &Arc<Pipeline>) -> Arc<Exposures> {
        let exposures = Arc::new(Exposures::new(Arc::clone(config), logger.clone()));
        let (hook, weak) = (Arc::clone(&exposures), Arc::downgrade(pipeline));
        pipeline.set_wake_hook(move || {
            if let Some(pipeline) = weak.upgrade() {
                hook.release_expired(&pipeline);
            }
        });
        exposures
    }

    /// Counts, logs and queues one exposure; `at` is when the decision was made. `Ok(false)`: a
    /// repeat within the dedupe window, not queued.
    pub fn emit(&self, pipeline: &Pipeline, d: &Decision<'_>, ids: &ExposureIds<'_>, at: SystemTime) -> Result<bool, PushError> {
        let stats = pipeline.stats();
        let flag = d.flag_key.as_deref().or(ids.flag_key).unwrap_or("");
        let (rule, variation) = (d.rule_key.as_deref().unwrap_or(""), d.variation_key.as_deref().unwrap_or(""));
        let at_s = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |t| t.as_secs().min(u64::from(u32::MAX)) as u32);
        let undo = match self.dedupe.as_ref().map(|t| t.check(&d.user_id, flag, rule, variation, at_s)) {
            Some(Seen::Repeat) => {
                bump(&stats.deduplicated);
                return Ok(false);
            }
            Some(Seen::New(undo)) => Some(undo),
            None => None,
        };
        bump(&stats.exposures);
        if ids.rule_type == Some(RuleType::Holdout) {
            bump(&stats.holdout_exposures);
        }
        self.counts.count(ids.counter, flag, rule, variation);
        // The event itself is logged (debug) by the sender when it is serialized, with the
        // messageId that is sent.
        let packed = PackedExposure::pack(d, ids, &self.config, at, pipeline.spare_buffer());
        match pipeline.push(Queued::exposure(packed, &self.config)) {
            Ok(()) => Ok(true),
            Err(e) => {
                // Not queued: the next exposure of this assignment must not be taken for a repeat.
                if let (Some(table), Some(undo)) = (&self.dedupe, undo) {
                    table.undo(undo);
                }
                Err(e)
            }
        }
    }

    /// The no-datafile rule (docs/design.md §4 rule 3) for a decision the datafile could not place.
    pub fn fall_back(&self, pipeline: &Pipeline, d: &Decision<'_>, at: SystemTime) -> Result<bool, PushError> {
        match classify(d, None, &self.config) {
            Classification::Exposure(ids) => self.emit(pipeline, d, &ids, at),
            _ => {
                bump(&pipeline.stats().skipped);
                Ok(false)
            }
        }
    }

    /// Holds a decision whose rule the datafile does not list. `datafile_changed` runs under the
    /// hold lock: `set_datafile` stores the new datafile before it takes that lock to release
    /// held decisions, so a decision is either seen by that release or classified again.
    pub fn hold(&self, pipeline: &Pipeline, d: &Decision<'_>, at: SystemTime, datafile_changed: impl FnOnce() -> bool) -> Holding {
        let mut hold = self.lock();
        if datafile_changed() {
            return Holding::Retry;
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.hold_timeout_ms);
        if hold.push(Held::new(OwnedDecision::new(d), at, deadline)) {
            self.held_now.store(hold.len(), Relaxed);
            bump(&pipeline.stats().held);
            self.logger.log(LogLevel::Debug, || {
                let key = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().unwrap_or("-").to_string();
                format!("held {}/{}: the datafile does not list this rule; waiting for the next datafile", key(&d.flag_key), key(&d.rule_key))
            });
            Holding::Held
        } else {
            bump(&pipeline.stats().hold_full);
            Holding::Full
        }
    }

    /// The hook for the sender's wake: resolves held decisions whose timeout has passed with the
    /// fallback rule. Cheap when nothing is held (one atomic load).
    pub fn release_expired(&self, pipeline: &Pipeline) {
        if self.held_now.load(Relaxed) == 0 {
            return;
        }
        let expired = {
            let mut hold = self.lock();
            let expired = hold.take_expired(Instant::now());
            self.held_now.store(hold.len(), Relaxed);
            expired
        };
        self.resolve(pipeline, expired, Release::Timeout, None);
    }

    /// Flush and shutdown: everything held is resolved with the fallback rule now.
    pub fn release_all(&self, pipeline: &Pipeline) {
        if self.held_now.load(Relaxed) == 0 {
            return;
        }
        let all = {
            let mut hold = self.lock();
            self.held_now.store(0, Relaxed);
            hold.take_all()
        };
        self.resolve(pipeline, all, Release::Flush, None);
    }

    /// A new datafile: held decisions it places are resolved; the others wait on (same deadline).
    pub fn release_with(&self, pipeline: &Pipeline, index: &DatafileIndex) {
        if self.held_now.load(Relaxed) == 0 {
            return;
        }
        let placed = {
            let mut hold = self.lock();
            let placed = hold.take_where(|h| !matches!(classify(&h.decision.decision(), Some(index), &self.config), Classification::Unlisted));
            self.held_now.store(hold.len(), Relaxed);
            placed
        };
        self.resolve(pipeline, placed, Release::Datafile, Some(index));
    }

    fn resolve(&self, pipeline: &Pipeline, released: Vec<Held>, why: Release, index: Option<&DatafileIndex>) {
        if let (Release::Timeout, false) = (why, released.is_empty()) {
            self.logger.log(LogLevel::Warn, || {
                format!(
                    "{} held decisions resolved by the no-datafile rule after {} ms: no datafile listed their rules \
                     (is the datafile pushed on every config update?)",
                    released.len(),
                    self.config.hold_timeout_ms
                )
            });
        }
        let stats = pipeline.stats();
        for held in released {
            let d = held.decision.decision();
            bump(match why {
                Release::Datafile => &stats.released_by_datafile,
                Release::Timeout => &stats.released_by_timeout,
                Release::Flush => &stats.released_by_flush,
            });
            let outcome = match index.map(|index| classify(&d, Some(index), &self.config)) {
                Some(Classification::Exposure(ids)) => self.emit(pipeline, &d, &ids, held.at).map(|_| ()),
                Some(_) => {
                    bump(&stats.skipped);
                    Ok(())
                }
                None => self.fall_back(pipeline, &d, held.at).map(|_| ()),
            };
            if let Err(e) = outcome {
                self.logger.log(LogLevel::Warn, || format!("held decision released but not queued: {e:?}"));
            }
        }
    }

    /// `held_now`, `exposure_counts_overflow` and `exposures_by_variation` for `flagwire_stats`.
    pub fn stats_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("held_now".into(), self.held_now.load(Relaxed).into());
        out.insert("exposure_counts_overflow".into(), self.counts.overflow().into());
        out.insert("exposures_by_variation".into(), self.counts.to_json());
        out.insert("dedupe_entries".into(), self.dedupe.as_ref().map_or(0, DedupeTable::len).into());
        out
    }

    fn lock(&self) -> MutexGuard<'_, HoldBuffer> {
        self.hold.lock().unwrap_or_else(|p| p.into_inner())
    }
}
