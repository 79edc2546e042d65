//! The client: config, datafile, the current pipeline (rebuilt after fork), last error.
//! Everything here is plain Rust; `ffi` only converts arguments and delegates.

use std::borrow::Cow;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption, Guard};

use crate::classify::{classify, Classification};
use crate::config::{Config, LogLevel};
use crate::datafile::DatafileIndex;
use crate::decision::{parse_notification, Decision, DecisionType, DecodeError};
use crate::event::complete_message;
use crate::exposures::{Exposures, Holding};
use crate::fork;
use crate::log::{FlagwireLogCallback, Logger};
use crate::profile::{Lookup, ProfileClient};
use crate::sender::{Pipeline, PushError, Queued};
use crate::stats::bump;
use crate::status::FlagwireStatus as Status;
use crate::strict_json;

pub struct Client {
    config: Arc<Config>,
    logger: Logger,
    datafile: ArcSwapOption<DatafileIndex>,
    /// What this process has of its own (queue, sender, held decisions, counts): replaced only in
    /// a forked child, where the parent's is deliberately leaked (see `fork`).
    local: ArcSwap<Local>,
    generation: AtomicU64,
    rebuild: Mutex<()>,
    last_error: Mutex<Option<Cow<'static, str>>>,
    profile: Option<ProfileClient>,
}

/// One process's delivery pipeline and the exposures it holds and counts. Derefs to the
/// pipeline, so `&Local` is a `&Pipeline` wherever one is asked for.
pub(crate) struct Local {
    pipeline: Arc<Pipeline>,
    exposures: Arc<Exposures>,
}

impl Local {
    fn start(config: &Arc<Config>, logger: &Logger) -> Result<Local, String> {
        let pipeline = Arc::new(Pipeline::start(Arc::clone(config), logger.clone())?);
        let exposures = Exposures::for_pipeline(config, logger, &pipeline);
        Ok(Local { pipeline, exposures })
    }
}

impl std::ops::Deref for Local {
    type Target = Pipeline;
    fn deref(&self) -> &Pipeline {
        &self.pipeline
    }
}

fn same_datafile(a: &Option<Arc<DatafileIndex>>, b: &Option<Arc<DatafileIndex>>) -> bool {
    a.as_ref().map(Arc::as_ptr) == b.as_ref().map(Arc::as_ptr)
}

/// What a Profile API lookup returns.
#[derive(Clone, Copy)]
pub enum ProfileField {
    Attributes,
    UserId,
}

/// Arguments of the allocation-light fast path, borrowed from the caller.
#[derive(Debug)]
pub struct FlagDecision<'a> {
    pub user_id: &'a str,
    pub flag_key: &'a str,
    pub rule_key: Option<&'a str>,
    pub variation_key: Option<&'a str>,
    pub enabled: bool,
    pub decision_event_dispatched: Option<bool>,
    /// The notification's `experimentId` / `variationId`, when the SDK gave them.
    pub experiment_id: Option<&'a str>,
    pub variation_id: Option<&'a str>,
    pub attributes_json: Option<&'a str>,
    /// When the decision was made; `None` = now (read on the caller's thread).
    pub at: Option<SystemTime>,
}

impl Client {
    pub fn new(config_json: &str) -> Result<Client, String> {
        let config = Arc::new(Config::from_json(config_json)?);
        let logger = Logger::new(config.log_level);
        fork::install();
        let generation = fork::generation();
        let profile = config.profile.as_ref().map(|p| ProfileClient::new(p, &config)).transpose()?;
        let local = Local::start(&config, &logger)?;
        Ok(Client {
            config,
            logger,
            datafile: ArcSwapOption::empty(),
            local: ArcSwap::from_pointee(local),
            generation: AtomicU64::new(generation),
            rebuild: Mutex::new(()),
            last_error: Mutex::new(None),
            profile,
        })
    }

    /// This process's pipeline and exposures; in a forked child the first call builds fresh ones.
    fn pipeline(&self) -> Guard<Arc<Local>> {
        let current = fork::generation();
        if self.generation.load(Ordering::Acquire) != current {
            self.after_fork(current);
        }
        self.local.load()
    }

    #[cold]
    fn after_fork(&self, current: u64) {
        let _guard = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) == current {
            return;
        }
        match Local::start(&self.config, &self.logger) {
            Ok(fresh) => {
                // The parent holds and counts its own decisions; the child starts empty, and its
                // datafile index gets counter slots of its own.
                if let Some(index) = self.datafile.load_full() {
                    self.datafile.store(Some(Arc::new(index.fresh_copy())));
                }
                // The parent's pipeline is deliberately leaked: its locks may be held by threads
                // that do not exist in this process, so it is never dropped here (see `fork`).
                std::mem::forget(self.local.swap(Arc::new(fresh)));
                self.generation.store(current, Ordering::Release);
            }
            Err(e) => self.logger.log(LogLevel::Error, || format!("after fork: {e}")),
        }
    }

    /// Routes this client's log lines to the host's logger (None: stderr).
    pub fn set_log_callback(&self, callback: FlagwireLogCallback, user_data: *mut c_void) {
        self.logger.set_callback(callback, user_data);
        if callback.is_some() {
            // Said here rather than at init, so that it reaches the host's logger.
            self.logger.log(LogLevel::Info, || format!("logging to the host's logger; endpoint {}", self.config.endpoint));
            if let Some((level, line)) = self.pipeline().spool_status() {
                self.logger.log(level, || line);
            }
        }
    }

    /// Records an error message for `flagwire_last_error` and for the current call's
    /// `out_error` (ABI 2), when the caller asked for one.
    pub fn set_error(&self, message: impl Into<Cow<'static, str>>) {
        let message = message.into();
        crate::call_error::offer(&message);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|m| m.to_string())
    }

    pub fn count_invalid(&self) {
        bump(&self.pipeline().stats().dropped_invalid);
    }

    pub fn set_datafile(&self, json: &str) -> Status {
        let pipeline = self.pipeline();
        match DatafileIndex::parse(json) {
            Ok(index) => {
                self.logger.log(LogLevel::Info, || {
                    format!("datafile revision {:?}: {} flags", index.revision, index.flag_count())
                });
                let index = Arc::new(index);
                self.datafile.store(Some(Arc::clone(&index)));
                // After the store: see `Exposures::hold`.
                pipeline.exposures.release_with(&pipeline, &index);
                Status::Ok
            }
            Err(e) => {
                self.set_error(format!("{e}; the previous datafile is kept"));
                Status::InvalidJson
            }
        }
    }

    pub fn on_decision(&self, notification_json: &str) -> Status {
        let pipeline = self.pipeline();
        match parse_notification(notification_json) {
            Ok(decision) => self.handle(decision, None, None, &pipeline),
            Err(DecodeError::UnknownType(t)) => {
                bump(&pipeline.stats().decisions);
                bump(&pipeline.stats().skipped);
                self.logger.log(LogLevel::Debug, || format!("skipped: notification type {t:?} is not handled"));
                Status::Skipped
            }
            Err(DecodeError::Invalid(message)) => {
                bump(&pipeline.stats().dropped_invalid);
                self.set_error(message);
                Status::InvalidJson
            }
        }
    }

    pub fn on_flag_decision(&self, args: &FlagDecision<'_>) -> Status {
        let pipeline = self.pipeline();
        if args.user_id.is_empty() || args.flag_key.is_empty() {
            bump(&pipeline.stats().dropped_invalid);
            self.set_error("on_flag_decision: `user_id` and `flag_key` must be non-empty");
            return Status::InvalidJson;
        }
        let decision = Decision {
            decision_type: DecisionType::Flag,
            user_id: Cow::Borrowed(args.user_id),
            attributes: None,
            flag_key: Some(Cow::Borrowed(args.flag_key)),
            rule_key: args.rule_key.filter(|s| !s.is_empty()).map(Cow::Borrowed),
            variation_key: args.variation_key.filter(|s| !s.is_empty()).map(Cow::Borrowed),
            enabled: Some(args.enabled),
            experiment_id: args.experiment_id.filter(|s| !s.is_empty()).map(Cow::Borrowed),
            variation_id: args.variation_id.filter(|s| !s.is_empty()).map(Cow::Borrowed),
            decision_event_dispatched: args.decision_event_dispatched,
            source: None,
        };
        self.handle(decision, args.attributes_json, args.at, &pipeline)
    }

    /// Attributes (the fast path's unparsed `raw_attributes`, or the notification's) are checked
    /// only for exposures and held decisions: a skipped decision never pays for it.
    fn handle<'a>(
        &self,
        decision: Decision<'a>,
        raw_attributes: Option<&'a str>,
        at: Option<SystemTime>,
        pipeline: &Local,
    ) -> Status {
        bump(&pipeline.stats().decisions);
        let datafile = self.datafile.load();
        let classified = classify(&decision, datafile.as_deref(), &self.config);
        if let Classification::Skip(reason) = classified {
            return self.skipped(&decision, reason, pipeline);
        }
        let at = at.unwrap_or_else(SystemTime::now);
        let checked;
        let mut decision = decision;
        if let (Some(text), true) = (raw_attributes.or(decision.attributes), self.config.include_attributes) {
            match self.strict_attributes(text, raw_attributes.is_some(), pipeline) {
                Ok(attributes) => checked = attributes,
                Err(message) => {
                    bump(&pipeline.stats().dropped_invalid);
                    self.set_error(message);
                    return Status::InvalidJson;
                }
            }
            decision.attributes = checked.as_deref();
        }
        self.place(&decision, classified, &datafile, at, pipeline, 0)
    }

    /// Queues an exposure, or holds a decision on a rule the datafile does not list (the datafile
    /// may lag the SDK: docs/design.md §4 rule 4). `attempt` bounds the re-classifications when
    /// datafiles arrive while it is being held.
    fn place(
        &self,
        decision: &Decision<'_>,
        classified: Classification<'_>,
        datafile: &Option<Arc<DatafileIndex>>,
        at: SystemTime,
        pipeline: &Local,
        attempt: u32,
    ) -> Status {
        let pushed = match classified {
            Classification::Skip(reason) => return self.skipped(decision, reason, pipeline),
            Classification::Exposure(ids) => match pipeline.exposures.emit(pipeline, decision, &ids, at) {
                // A repeat within the dedupe window: valid, not sent.
                Ok(false) => return Status::Skipped,
                pushed => pushed.map(|_| ()),
            },
            Classification::Unlisted => {
                match pipeline.exposures.hold(pipeline, decision, at, || attempt < 3 && !same_datafile(&self.datafile.load(), datafile)) {
                    Holding::Held => return Status::Ok,
                    Holding::Full => match pipeline.exposures.fall_back(pipeline, decision, at) {
                        Ok(false) => return Status::Skipped,
                        pushed => pushed.map(|_| ()),
                    },
                    // A datafile arrived meanwhile: classify with it.
                    Holding::Retry => {
                        let newer = self.datafile.load();
                        let classified = classify(decision, newer.as_deref(), &self.config);
                        return self.place(decision, classified, &newer, at, pipeline, attempt + 1);
                    }
                }
            }
        };
        self.push_status(pushed)
    }

    fn skipped(&self, decision: &Decision<'_>, reason: &str, pipeline: &Pipeline) -> Status {
        bump(&pipeline.stats().skipped);
        self.logger.log(LogLevel::Debug, || {
            format!("skipped {}/{}: {reason}", decision.flag_key.as_deref().unwrap_or("-"), decision.rule_key.as_deref().unwrap_or("-"))
        });
        Status::Skipped
    }

    /// Attributes as strict receivers accept them (issue 12): a member they would refuse is
    /// dropped and counted, and the exposure still goes out; the analyst loses one attribute
    /// value instead of the exposure. `Err` only when the text is not a JSON object at all.
    fn strict_attributes<'t>(&self, text: &'t str, fast_path: bool, pipeline: &Pipeline) -> Result<Option<Cow<'t, str>>, String> {
        let checked = strict_json::attributes(text).map_err(|e| {
            if fast_path {
                format!("on_flag_decision: `attributes_json`: {e}")
            } else {
                format!("notification: `attributes`: {e}")
            }
        })?;
        if checked.dropped > 0 {
            let before = pipeline.stats().dropped_attributes.fetch_add(u64::from(checked.dropped), Ordering::Relaxed);
            let problem = checked.problem.unwrap_or_default();
            // Logged when the count passes a power of two, so a bad value on every call cannot flood stderr.
            if (before + u64::from(checked.dropped)).ilog2() != before.checked_ilog2().unwrap_or(u32::MAX) {
                self.logger.log(LogLevel::Warn, || format!("{problem} (strict receivers refuse it; see stats.dropped_attributes)"));
            }
            self.set_error(problem);
        }
        Ok(checked.text)
    }

    pub fn enqueue(&self, message_json: &str) -> Status {
        let pipeline = self.pipeline();
        let at = SystemTime::now();
        match complete_message(message_json, at) {
            Ok(message) => self.push(&pipeline, Queued::json(message, at)),
            Err(e) => {
                bump(&pipeline.stats().dropped_invalid);
                self.set_error(e);
                Status::InvalidJson
            }
        }
    }

    fn push(&self, pipeline: &Pipeline, message: Queued) -> Status {
        self.push_status(pipeline.push(message))
    }

    fn push_status(&self, pushed: Result<(), PushError>) -> Status {
        match pushed {
            Ok(()) => Status::Ok,
            Err(PushError::QueueFull) => {
                self.set_error("queue full: event dropped (max_queue_events / max_queue_bytes reached)");
                Status::QueueFull
            }
            Err(PushError::TooLarge(size)) => {
                self.set_error(format!("message is {size} bytes serialized, over Segment's 32,000-byte limit: dropped"));
                Status::TooLarge
            }
            Err(PushError::Closed) => {
                self.set_error("client is shut down");
                Status::Closed
            }
        }
    }

    pub fn flush(&self, timeout: Duration) -> Status {
        let pipeline = self.pipeline();
        // Held decisions are resolved by the fallback rule, so the flush covers them too.
        pipeline.exposures.release_all(&pipeline);
        if pipeline.flush(timeout) {
            Status::Ok
        } else {
            self.set_error(format!("flush: deadline of {} ms passed; events stay queued", timeout.as_millis()));
            Status::Timeout
        }
    }

    pub fn stats_json(&self) -> String {
        let pipeline = self.pipeline();
        let mut extra = pipeline.exposures.stats_json();
        extra.extend(pipeline.spool_stats());
        pipeline.stats().to_json(pipeline.queue_depth(), pipeline.in_flight(), extra)
    }

    /// Profile API lookup (docs/design.md §7): OK with the value, NOT_FOUND, UNAVAILABLE (error or timeout
    /// and nothing cached), INVALID_CONFIG when `profile` is not configured, INVALID_JSON for an
    /// identifier that is not `<type>:<value>`.
    pub fn profile_lookup(&self, identifier: &str, what: ProfileField) -> (Status, Option<String>) {
        let Some(profile) = &self.profile else {
            self.set_error("the Profile API is not configured: add a `profile` object to the config");
            return (Status::InvalidConfig, None);
        };
        let lookup = match what {
            ProfileField::Attributes => profile.attributes(identifier),
            ProfileField::UserId => profile.user_id(identifier),
        };
        match lookup {
            Ok(Lookup::Found(value)) => (Status::Ok, Some(value)),
            Ok(Lookup::NotFound) => {
                self.set_error(format!("profile {identifier:?}: not found"));
                (Status::NotFound, None)
            }
            Ok(Lookup::Unavailable(why)) => {
                self.logger.log(LogLevel::Warn, || format!("profile {identifier:?}: {why}"));
                self.set_error(why);
                (Status::Unavailable, None)
            }
            Err(message) => {
                self.set_error(message);
                (Status::InvalidJson, None)
            }
        }
    }

    /// Flush with the deadline, stop the sender, free everything this process owns.
    pub fn shutdown(self, timeout: Duration) -> Status {
        let deadline = Instant::now() + timeout;
        let status = self.flush(timeout);
        let pipeline = self.pipeline();
        let stopped = pipeline.stop(deadline.max(Instant::now() + Duration::from_millis(20)));
        if !stopped {
            self.logger.log(LogLevel::Warn, || "shutdown: the sender is still in a request; leaving it to finish".into());
        }
        // A sender left in a hung request logs to stderr from now on, never into the host.
        self.logger.set_callback(None, std::ptr::null_mut());
        status
    }
}
