//! The spool's background thread: the first scan of what earlier processes left, interval syncs,
//! adopting the subdirectories of dead processes (owner of the root only), taking the root over
//! when its owner is gone (owner of a subdirectory), and retrying after a write failure. It
//! never holds events; the sender carries on without it.

use std::fs;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::file::{self, FileName};
use super::index::{self, Entry};
use super::lock::{self, DirLock};
use super::{Held, Role, Spool, State, SyncPolicy};
use crate::config::LogLevel;

/// How often directories are looked at for orphans and for a free root.
pub(crate) const SCAN_EVERY: Duration = Duration::from_secs(2);

impl Spool {
    /// Runs until `stop`; `on_backlog` wakes the sender when files appear that it can send.
    pub fn housekeeping(self: &Arc<Self>, on_backlog: impl Fn()) {
        let sync_every = Duration::from_millis(self.config.sync_interval_ms);
        let mut next_scan = Instant::now();
        let mut next_sync = Instant::now() + sync_every;
        loop {
            let now = Instant::now();
            if now >= next_scan {
                let before = self.backlog();
                self.maintain();
                if self.backlog() > before || self.backlog() > 0 && before == 0 {
                    on_backlog();
                }
                next_scan = now + SCAN_EVERY;
            }
            if self.config.sync == SyncPolicy::Interval && now >= next_sync {
                self.sync_unsynced();
                next_sync = now + sync_every;
            }
            let wake = if self.config.sync == SyncPolicy::Interval { next_scan.min(next_sync) } else { next_scan };
            let mut stopped = self.stop.0.lock().unwrap_or_else(|p| p.into_inner());
            if !*stopped {
                let wait = wake.saturating_duration_since(Instant::now());
                stopped = match self.stop.1.wait_timeout(stopped, wait) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
            if *stopped {
                drop(stopped);
                if self.config.sync != SyncPolicy::Never {
                    self.sync_unsynced();
                }
                return;
            }
        }
    }

    /// One round: a directory if there is none yet, first scans, orphans or the root.
    pub(super) fn maintain(&self) {
        {
            let mut st = self.lock();
            if st.write_dir.is_none() && st.degraded.as_ref().is_none_or(|(until, _)| Instant::now() >= *until) {
                self.acquire(&mut st);
            }
        }
        let unscanned: Vec<usize> = self.lock().dirs.iter().enumerate().filter(|(_, h)| !h.scanned).map(|(i, _)| i).collect();
        for dir in unscanned {
            self.scan(dir);
        }
        let owns_root = self.lock().dirs.iter().any(|h| h.role == Role::Root);
        if !owns_root {
            self.take_root();
        }
        if self.lock().dirs.iter().any(|h| h.role == Role::Root) {
            self.adopt_orphans();
        }
    }

    /// The owner of the root is gone (its lock is free): this process takes it over and drains
    /// what it left. Its own subdirectory stays where it writes.
    fn take_root(&self) {
        let Ok(Some(lock)) = DirLock::try_lock(&self.root.join(lock::LOCK_NAME), true) else { return };
        self.logger.log(LogLevel::Info, || format!("spool: took over {} (its owner is gone)", self.root.display()));
        let dir = {
            let mut st = self.lock();
            st.dirs.push(Held { path: self.root.clone(), lock: Some(lock), role: Role::Root, files: 0, scanned: false });
            st.dirs.len() - 1
        };
        self.scan(dir);
    }

    /// Subdirectories whose lock is free belong to processes that are gone: adopt them.
    fn adopt_orphans(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if name.starts_with(lock::NEW_SUBDIR_PREFIX) {
                // A subdirectory its maker never finished (it died between mkdir and rename).
                if let Ok(Some(_gone)) = DirLock::try_lock(&path.join(lock::LOCK_NAME), false) {
                    let _ = fs::remove_dir_all(&path);
                }
                continue;
            }
            if !name.starts_with(lock::SUBDIR_PREFIX) || self.lock().dirs.iter().any(|h| h.path == path) {
                continue;
            }
            let Ok(Some(lock)) = DirLock::try_lock(&path.join(lock::LOCK_NAME), true) else { continue };
            let dir = {
                let mut st = self.lock();
                st.dirs.push(Held { path: path.clone(), lock: Some(lock), role: Role::Adopted, files: 0, scanned: false });
                st.dirs.len() - 1
            };
            let found = self.scan(dir);
            let mut st = self.lock();
            if st.dirs[dir].files == 0 {
                lock::remove_empty(&path);
                st.dirs[dir].lock = None;
            } else {
                drop(st);
                self.logger.log(LogLevel::Info, || format!("spool: adopted {} ({found} events) of a process that is gone", path.display()));
            }
        }
    }

    /// Indexes the files of a directory this process just came to hold (names and sizes only);
    /// removes torn writes (`.tmp-…` of another writer). Returns the events found.
    fn scan(&self, dir: usize) -> u64 {
        let path = {
            let mut st = self.lock();
            st.dirs[dir].scanned = true;
            st.dirs[dir].path.clone()
        };
        let Ok(entries) = fs::read_dir(&path) else { return 0 };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(parsed) = FileName::parse(name) {
                if parsed.key.tag != self.tag {
                    let len = entry.metadata().map_or(0, |m| m.len());
                    found.push((parsed, len));
                }
            } else if file::tmp_tag(name).is_some_and(|t| t != self.tag) {
                // A write cut short by a crash: its batch never counted as written.
                let _ = fs::remove_file(entry.path());
                self.counters.corrupt_files.fetch_add(1, Ordering::Relaxed);
                self.logger.log(LogLevel::Warn, || format!("spool: removed {} (a write cut short)", entry.path().display()));
            }
        }
        let mut st = self.lock();
        let mut events = 0;
        for (name, len) in found {
            let entry = Entry {
                dir,
                events: name.events,
                checksum: name.checksum,
                disk_bytes: index::disk_bytes(len as usize),
                own_seq: None,
                claimed: false,
            };
            if st.index.insert(name.key, entry) {
                st.dirs[dir].files += 1;
                events += u64::from(name.events);
            }
        }
        self.counters.recovered.fetch_add(events, Ordering::Relaxed);
        self.enforce_bounds(&mut st);
        self.publish(&st);
        events
    }

    /// After a scan (the bound may have been lowered since the files were written): drops the
    /// oldest files of other processes until within the bounds.
    fn enforce_bounds(&self, st: &mut State) {
        while st.index.bytes() > self.config.max_bytes || st.index.len() > index::MAX_FILES {
            let Some(key) = st.index.oldest_unclaimed_where(|e| e.own_seq.is_none()) else { break };
            self.drop_file(st, key);
        }
    }
}
