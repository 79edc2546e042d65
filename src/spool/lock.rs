//! Who owns a spool directory: the process holding an exclusive `flock` on its `LOCK` file.
//!
//! flock (not POSIX record locks): a second client in the same process conflicts like another
//! process does, and the lock goes away with the process however it ends (kill -9 included), so a
//! dead owner's directory is recognised by the lock being free. A forked child shares its parent's
//! lock through the inherited descriptor; the `pthread_atfork` child handler closes every lock
//! descriptor (`close_inherited`), so a child never keeps its parent's directories locked (after
//! the parent's death) and never counts as their owner.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

pub(crate) const LOCK_NAME: &str = "LOCK";
/// Subdirectories taken by a process that found the directory owned (a forked child, a second
/// process): `proc-<pid>-<random>`, created as `.new-…` and renamed once locked, so an owner
/// scanning for orphans never sees one before it is locked.
pub(crate) const SUBDIR_PREFIX: &str = "proc-";
pub(crate) const NEW_SUBDIR_PREFIX: &str = ".new-";

/// Lock descriptors of this process, for the atfork child handler (a fixed table: the handler
/// must not allocate or take locks). A lock that finds no free slot still works; a forked child
/// then keeps it open until the child exits.
const SLOTS: usize = 256;
static INHERITABLE: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];

/// Called in a forked child (async-signal-safe: atomics and close(2) only).
pub fn close_inherited() {
    for slot in &INHERITABLE {
        let fd = slot.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            unsafe { libc::close(fd) };
        }
    }
}

/// An exclusive flock, held until dropped.
pub struct DirLock {
    file: Option<File>,
    slot: Option<usize>,
}

impl DirLock {
    /// Ok(None) when another open file (this process or another) holds it.
    pub fn try_lock(path: &Path, create: bool) -> io::Result<Option<DirLock>> {
        let file = OpenOptions::new().read(true).write(true).create(create).mode(0o600).custom_flags(libc::O_CLOEXEC).open(path)?;
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(None) } else { Err(e) };
        }
        let fd = file.as_raw_fd();
        let slot = INHERITABLE.iter().position(|s| s.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire).is_ok());
        Ok(Some(DirLock { file: Some(file), slot }))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            // Only this process's own descriptor: if a fork's child handler emptied the slot, the
            // descriptor it closed was the child's copy, and this drop runs in the parent.
            let _ = INHERITABLE[i].compare_exchange(self.file.as_ref().map_or(-1, |f| f.as_raw_fd()), -1, Ordering::AcqRel, Ordering::Acquire);
        }
        drop(self.file.take());
    }
}

/// Makes and locks a fresh subdirectory of `root` for this process.
pub fn new_subdir(root: &Path) -> io::Result<(PathBuf, DirLock)> {
    let unique = format!("{}-{:08x}", std::process::id(), crate::ids::uuid_v4().as_u128() as u32);
    let fresh = root.join(format!("{NEW_SUBDIR_PREFIX}{unique}"));
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(&fresh)?;
    let made = (|| {
        let lock = DirLock::try_lock(&fresh.join(LOCK_NAME), true)?.ok_or_else(|| io::Error::other("a fresh subdirectory was locked"))?;
        let dir = root.join(format!("{SUBDIR_PREFIX}{unique}"));
        std::fs::rename(&fresh, &dir)?;
        Ok((dir, lock))
    })();
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&fresh);
    }
    made
}

/// Removes a directory this process holds and has emptied: the lock file, then the directory
/// (best effort: a file someone else put there keeps it).
pub fn remove_empty(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(LOCK_NAME));
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_even_within_a_process() {
        let dir = std::env::temp_dir().join(format!("flagwire-lock-{}", crate::ids::uuid_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(LOCK_NAME);
        let first = DirLock::try_lock(&path, true).unwrap().expect("free");
        assert!(DirLock::try_lock(&path, true).unwrap().is_none(), "held by the first");
        drop(first);
        let again = DirLock::try_lock(&path, true).unwrap();
        assert!(again.is_some(), "released on drop");
        let (sub, _lock) = new_subdir(&dir).unwrap();
        assert!(sub.file_name().unwrap().to_str().unwrap().starts_with(SUBDIR_PREFIX));
        assert!(DirLock::try_lock(&sub.join(LOCK_NAME), false).unwrap().is_none());
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
