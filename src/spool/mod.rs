//! The disk spool (docs/design.md §5.1): batches the sender writes to append-only files before it
//! sends them, or when it cannot send them now, and removes after a 2xx. The files outlive the
//! process: the next owner of the directory delivers what a crashed or stopped one left.
//!
//! - `file`: one file = one batch = a valid `/v1/batch` body; names carry order and checksum.
//! - `index`: the files held, oldest first, and their size (names only, never contents).
//! - `lock`: who owns a directory (flock), subdirectories for other processes and forked children.
//! - `housekeeping`: the background thread: first scan, interval syncs, adopting orphans.
//!
//! Every I/O error degrades the spool to memory-only (logged, retried every 10 s), never a crash
//! and never a blocked caller: callers never touch the spool; the sender's threads do.

mod config;
mod file;
mod housekeeping;
mod index;
mod lock;

pub use config::{SpoolConfig, SyncPolicy};
pub use file::message_ends;
pub use lock::close_inherited;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write};
use std::ops::Range;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::config::LogLevel;
use crate::log::Logger;
use file::{FileName, Key};
use index::{Entry, Index, MAX_FILES};
use lock::DirLock;

/// How long a spool that failed to write stays memory-only before it tries again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Counters for stats (docs/design.md §6).
#[derive(Default)]
pub struct Counters {
    /// This process's events written to the spool because they could not be sent when due.
    pub spooled: AtomicU64,
    /// Events found in files this process did not write (an earlier or dead process's).
    pub recovered: AtomicU64,
    /// Events delivered from a file read back from the disk.
    pub unspooled: AtomicU64,
    /// Events in the oldest files, removed to stay within `max_bytes` / `MAX_FILES`.
    pub dropped: AtomicU64,
    /// Files skipped as torn or corrupt, and removed.
    pub corrupt_files: AtomicU64,
    /// This process's events whose batch could not be written (I/O error, full disk, bound).
    pub unwritable: AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// The configured directory, locked by this process.
    Root,
    /// This process's own subdirectory (the directory was owned when it started).
    Own,
    /// A dead process's subdirectory, being drained by the root's owner.
    Adopted,
}

struct Held {
    path: PathBuf,
    /// None once an adopted directory has been emptied and removed.
    lock: Option<DirLock>,
    role: Role,
    files: usize,
    scanned: bool,
}

struct State {
    /// Lines to log once the lock is released (a host's log callback may call back into the
    /// library, e.g. for stats, which takes this lock).
    logs: Vec<(LogLevel, String)>,
    dirs: Vec<Held>,
    /// Where this process writes: the root or its own subdirectory. None: no directory yet.
    write_dir: Option<usize>,
    index: Index,
    /// Bytes and files being written right now (counted against the bounds before they exist).
    reserved_bytes: u64,
    reserved_files: usize,
    /// Memory-only until then, and why.
    degraded: Option<(Instant, String)>,
}

/// The state, locked; lines logged meanwhile go out after the lock is released.
struct Locked<'a> {
    guard: Option<MutexGuard<'a, State>>,
    logger: &'a Logger,
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.guard.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.guard.as_mut().expect("held until dropped")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let logs = self.guard.as_mut().map(|g| std::mem::take(&mut g.logs)).unwrap_or_default();
        drop(self.guard.take());
        for (level, line) in logs {
            self.logger.log(level, || line);
        }
    }
}

impl State {
    fn log(&mut self, level: LogLevel, line: String) {
        self.logs.push((level, line));
    }
}

/// A file handed to a worker to send.
#[derive(Clone, Copy, Debug)]
pub struct Claim {
    pub key: Key,
    pub events: u32,
    pub own_seq: Option<u64>,
}

/// The outcome of a write: the new file (None: not written; the batch stays memory-only) and the
/// own batches (first sequence numbers) whose files were dropped to make room.
pub struct Written {
    pub key: Option<Key>,
    pub dropped_own: Vec<u64>,
}

pub struct Spool {
    config: SpoolConfig,
    logger: Logger,
    root: PathBuf,
    /// Written into this process's file names; files with another tag were left by someone else.
    tag: u32,
    next_seq: AtomicU64,
    state: Mutex<State>,
    /// Unclaimed files, readable without the lock (the dispatcher asks on every turn).
    backlog: AtomicUsize,
    pub counters: Counters,
    /// Files written and not yet synced (`sync: "interval"`): directory index and name.
    unsynced: Mutex<Vec<(usize, String)>>,
    stop: (Mutex<bool>, Condvar),
}

/// A file's content, unless it is larger than any batch (a file this module did not write).
fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len > crate::config::MAX_BATCH_BYTES as u64 {
        return Err(io::Error::other(format!("{len} bytes, larger than any batch")));
    }
    let mut content = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut (&mut f).take(crate::config::MAX_BATCH_BYTES as u64 + 1), &mut content)?;
    Ok(content)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Spool {
    /// Takes the directory (or a subdirectory of it when another process or client owns it).
    /// Never fails: a directory that cannot be used leaves the spool memory-only, logged.
    pub fn open(config: &SpoolConfig, logger: &Logger) -> Spool {
        let root = std::path::absolute(&config.dir).unwrap_or_else(|_| PathBuf::from(&config.dir));
        let spool = Spool {
            config: config.clone(),
            logger: logger.clone(),
            root,
            tag: crate::ids::uuid_v4().as_u128() as u32,
            next_seq: AtomicU64::new(0),
            state: Mutex::new(State { logs: Vec::new(), dirs: Vec::new(), write_dir: None, index: Index::default(), reserved_bytes: 0, reserved_files: 0, degraded: None }),
            backlog: AtomicUsize::new(0),
            counters: Counters::default(),
            unsynced: Mutex::new(Vec::new()),
            stop: (Mutex::new(false), Condvar::new()),
        };
        spool.acquire(&mut spool.lock());
        spool
    }

    fn lock(&self) -> Locked<'_> {
        Locked { guard: Some(self.state.lock().unwrap_or_else(|p| p.into_inner())), logger: &self.logger }
    }

    /// Locks the root, or makes a subdirectory of its own when the root is owned.
    fn acquire(&self, st: &mut State) {
        // Private: the files hold user ids and attributes.
        if let Err(e) = fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.root) {
            return self.degrade(st, format!("cannot create {}: {e}", self.root.display()));
        }
        match DirLock::try_lock(&self.root.join(lock::LOCK_NAME), true) {
            Ok(Some(lock)) => {
                st.dirs.push(Held { path: self.root.clone(), lock: Some(lock), role: Role::Root, files: 0, scanned: false });
                st.write_dir = Some(st.dirs.len() - 1);
                st.log(LogLevel::Info, format!("spool: writing to {}", self.root.display()));
            }
            Ok(None) => match lock::new_subdir(&self.root) {
                Ok((dir, lock)) => {
                    st.log(LogLevel::Info, format!("spool: {} is owned by another process or client; writing to {}", self.root.display(), dir.display()));
                    st.dirs.push(Held { path: dir, lock: Some(lock), role: Role::Own, files: 0, scanned: true });
                    st.write_dir = Some(st.dirs.len() - 1);
                }
                Err(e) => return self.degrade(st, format!("cannot make a subdirectory of {}: {e}", self.root.display())),
            },
            Err(e) => return self.degrade(st, format!("cannot lock {}: {e}", self.root.join(lock::LOCK_NAME).display())),
        }
        st.degraded = None;
    }

    fn degrade(&self, st: &mut State, reason: String) {
        if st.degraded.is_none() {
            let line = format!("spool: {reason}; continuing memory-only (as without a spool), trying again every {} s", RETRY_AFTER_FAILURE.as_secs());
            st.log(LogLevel::Warn, line);
        }
        st.degraded = Some((Instant::now() + RETRY_AFTER_FAILURE, reason));
    }

    /// The directory to write to, unless the spool is memory-only right now.
    fn usable(&self, st: &State) -> Option<usize> {
        match &st.degraded {
            Some((until, _)) if Instant::now() < *until => None,
            _ => st.write_dir,
        }
    }

    /// Whether a write would be tried now.
    pub fn writable(&self) -> bool {
        self.usable(&self.lock()).is_some()
    }

    /// Files waiting to be sent (not being sent).
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Acquire)
    }

    fn publish(&self, st: &State) {
        self.backlog.store(st.index.unclaimed(), Ordering::Release);
    }

    /// A line for the host's logger once it is set (the one at init went to stderr).
    pub fn status_line(&self) -> (LogLevel, String) {
        let st = self.lock();
        match (&st.degraded, st.write_dir) {
            (Some((_, why)), _) => (LogLevel::Warn, format!("spool: {why}; memory-only for now")),
            (None, Some(d)) => (LogLevel::Info, format!("spool: writing to {} ({} files waiting)", st.dirs[d].path.display(), st.index.len())),
            (None, None) => (LogLevel::Warn, "spool: no directory; memory-only".into()),
        }
    }

    pub fn root_display(&self) -> std::path::Display<'_> {
        self.root.display()
    }

    /// (files, bytes on disk) held now.
    pub fn size(&self) -> (usize, u64) {
        let st = self.lock();
        (st.index.len(), st.index.bytes())
    }

    /// Writes one batch (`joined`: messages joined by commas) as a new file. `claimed`: the caller
    /// sends it now (written ahead); else it waits in the backlog. Older unclaimed files are
    /// dropped to make room when the bounds require it.
    pub fn write(&self, joined: &[u8], events: u32, own_seq: Option<u64>, claimed: bool) -> Written {
        let need = index::disk_bytes(file::content_len(joined.len()));
        let mut dropped_own = Vec::new();
        let reserved = {
            let mut st = self.lock();
            let dir = self.usable(&st).filter(|_| self.make_room(&mut st, need, &mut dropped_own));
            self.publish(&st);
            dir.map(|dir| {
                st.reserved_bytes += need;
                st.reserved_files += 1;
                (dir, st.dirs[dir].path.clone())
            })
        };
        let Some((dir, path)) = reserved else {
            self.counters.unwritable.fetch_add(u64::from(events), Ordering::Relaxed);
            return Written { key: None, dropped_own };
        };
        let key = Key { created_ms: now_ms(), tag: self.tag, seq: self.next_seq.fetch_add(1, Ordering::Relaxed) };
        let name = FileName { key, events, checksum: file::checksum(joined) };
        let result = self.write_file(&path, &name, joined);
        let mut st = self.lock();
        st.reserved_bytes -= need;
        st.reserved_files -= 1;
        match result {
            Ok(rendered) => {
                st.index.insert(key, Entry { dir, events, checksum: name.checksum, disk_bytes: need, own_seq, claimed });
                st.dirs[dir].files += 1;
                self.publish(&st);
                drop(st);
                if self.config.sync == SyncPolicy::Interval {
                    self.unsynced.lock().unwrap_or_else(|p| p.into_inner()).push((dir, rendered));
                }
                Written { key: Some(key), dropped_own }
            }
            Err(e) => {
                self.degrade(&mut st, format!("cannot write to {}: {e}", path.display()));
                self.counters.unwritable.fetch_add(u64::from(events), Ordering::Relaxed);
                Written { key: None, dropped_own }
            }
        }
    }

    /// Under the lock: drops the oldest unclaimed files until `need` more bytes and one more file
    /// fit. False (nothing dropped) when even dropping them all would not make room.
    fn make_room(&self, st: &mut State, need: u64, dropped_own: &mut Vec<u64>) -> bool {
        let max = self.config.max_bytes;
        let fits = |st: &State, bytes: u64, files: usize| {
            bytes + st.reserved_bytes + need <= max && files + st.reserved_files < MAX_FILES
        };
        if fits(st, st.index.bytes(), st.index.len()) {
            return true;
        }
        let kept_bytes = st.index.bytes() - st.index.unclaimed_bytes();
        if !fits(st, kept_bytes, st.index.len() - st.index.unclaimed()) {
            return false;
        }
        while !fits(st, st.index.bytes(), st.index.len()) {
            let Some((key, _)) = st.index.oldest_unclaimed() else { break };
            if let Some(own) = self.drop_file(st, key) {
                dropped_own.push(own);
            }
        }
        true
    }

    /// Removes a file to respect the bounds (counted); returns its own sequence number if any.
    fn drop_file(&self, st: &mut State, key: Key) -> Option<u64> {
        let entry = self.forget(st, &key)?;
        let before = self.counters.dropped.fetch_add(u64::from(entry.events), Ordering::Relaxed);
        // Logged when the count passes a power of two: a long outage must not flood the log.
        let after = before + u64::from(entry.events);
        if before == 0 || after.ilog2() != before.ilog2() {
            let line = format!("spool: full (max_bytes {} or {MAX_FILES} files): oldest files dropped, {after} events so far (stats spool_dropped)", self.config.max_bytes);
            st.log(LogLevel::Warn, line);
        }
        entry.own_seq
    }

    /// Unlinks a file and forgets it; an adopted directory left empty is removed.
    fn forget(&self, st: &mut State, key: &Key) -> Option<Entry> {
        let entry = st.index.remove(key)?;
        let name = FileName { key: *key, events: entry.events, checksum: entry.checksum }.render();
        if let Err(e) = fs::remove_file(st.dirs[entry.dir].path.join(&name)) {
            if e.kind() != io::ErrorKind::NotFound {
                st.log(LogLevel::Warn, format!("spool: cannot remove {name}: {e}"));
            }
        }
        let held = &mut st.dirs[entry.dir];
        held.files -= 1;
        if held.files == 0 && held.role == Role::Adopted && held.lock.is_some() {
            lock::remove_empty(&held.path);
            held.lock = None;
        }
        self.publish(st);
        Some(entry)
    }

    /// Writes `.tmp-…`, syncs it (policy `always`), renames it to its name, syncs the directory.
    fn write_file(&self, dir: &Path, name: &FileName, joined: &[u8]) -> io::Result<String> {
        let tmp = dir.join(file::tmp_name(name.key.tag, name.key.seq));
        let rendered = name.render();
        let target = dir.join(&rendered);
        let always = self.config.sync == SyncPolicy::Always;
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_CLOEXEC).open(&tmp)?;
            f.write_all(file::PREFIX)?;
            f.write_all(joined)?;
            f.write_all(file::SUFFIX)?;
            if always {
                f.sync_data()?;
            }
            drop(f);
            fs::rename(&tmp, &target)?;
            if always {
                if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
                    let _ = fs::remove_file(&target);
                    return Err(e);
                }
            }
            Ok(rendered)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// The oldest file waiting, now claimed by the caller.
    pub fn claim_oldest(&self) -> Option<Claim> {
        let mut st = self.lock();
        let (key, _) = st.index.oldest_unclaimed()?;
        let e = st.index.set_claimed(&key, true)?;
        let claim = Claim { key, events: e.events, own_seq: e.own_seq };
        self.publish(&st);
        Some(claim)
    }

    /// A claimed file's content, checked against its name, and the range of its messages. A
    /// torn, corrupt or vanished file is counted, logged, removed and `None`.
    pub fn read(&self, claim: &Claim) -> Option<(Vec<u8>, Range<usize>)> {
        let (path, name) = {
            let st = self.lock();
            let e = st.index.get(&claim.key)?;
            let name = FileName { key: claim.key, events: e.events, checksum: e.checksum };
            (st.dirs[e.dir].path.join(name.render()), name)
        };
        let problem = match read_bounded(&path) {
            Ok(content) => match file::verify(&content, &name) {
                Ok(range) => return Some((content, range)),
                Err(c) => format!("{c:?} mismatch ({} bytes)", content.len()),
            },
            Err(e) => e.to_string(),
        };
        self.counters.corrupt_files.fetch_add(1, Ordering::Relaxed);
        self.logger.log(LogLevel::Warn, || format!("spool: {} is torn or corrupt ({problem}): skipped and removed ({} events)", path.display(), name.events));
        self.forget(&mut self.lock(), &claim.key);
        None
    }

    /// Delivered or failed for good: the file goes.
    pub fn remove(&self, key: &Key) {
        self.forget(&mut self.lock(), key);
    }

    /// Not sent now: back to the backlog.
    pub fn release(&self, key: &Key) {
        let mut st = self.lock();
        st.index.set_claimed(key, false);
        self.publish(&st);
    }

    /// Stops the housekeeping thread (it syncs what is unsynced first).
    pub fn stop(&self) {
        *self.stop.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.1.notify_all();
    }

    /// Syncs files written since the last sync, and their directories (`sync: "interval"`).
    /// Files already delivered and removed are skipped: under a healthy network most are.
    fn sync_unsynced(&self) {
        let list = std::mem::take(&mut *self.unsynced.lock().unwrap_or_else(|p| p.into_inner()));
        if list.is_empty() {
            return;
        }
        let dirs: Vec<Option<PathBuf>> = self.lock().dirs.iter().map(|h| h.lock.as_ref().map(|_| h.path.clone())).collect();
        let mut touched = vec![false; dirs.len()];
        for (dir, name) in list {
            let Some(Some(path)) = dirs.get(dir) else { continue };
            if let Ok(f) = File::open(path.join(name)) {
                let _ = f.sync_data();
                touched[dir] = true;
            }
        }
        for (dir, path) in dirs.iter().enumerate() {
            if let (true, Some(path)) = (touched[dir], path) {
                let _ = File::open(path).and_then(|d| d.sync_all());
            }
        }
    }

    /// At shutdown, once nothing is being sent: an own subdirectory left empty goes, one with
    /// files stays for the root's owner, and every lock is released now (not when the last
    /// sender thread lets go). Later writes fail (memory-only).
    pub fn close(&self) {
        let mut st = self.lock();
        if st.index.len() > st.index.unclaimed() {
            return; // a file is still being sent: the locks go with the spool (Drop)
        }
        release_dirs(&mut st);
        st.write_dir = None;
        st.degraded = Some((Instant::now() + Duration::from_secs(u32::MAX.into()), "closed".into()));
    }
}

fn release_dirs(st: &mut State) {
    for held in &mut st.dirs {
        if held.role == Role::Own && held.files == 0 && held.lock.is_some() {
            lock::remove_empty(&held.path);
        }
        held.lock = None;
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        release_dirs(self.state.get_mut().unwrap_or_else(|p| p.into_inner()));
    }
}

#[cfg(test)]
mod tests;
