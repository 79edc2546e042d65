//! The spool files this process holds, oldest first, and their size on disk: built from the
//! directories' names (never their contents), so a large backlog costs about 100 bytes of memory
//! per file, and at most `MAX_FILES` files are kept.

use std::collections::BTreeMap;

use super::file::Key;

/// Most files kept at once (about 10 MB of index); beyond it the oldest are dropped, as for the
/// byte bound. 100,000 files hold 100,000 batches: days of a trickle at one batch a second.
pub(crate) const MAX_FILES: usize = 100_000;

/// Space a file takes on disk, in whole 4 KiB blocks: a one-event file still costs a block, and
/// the bound is about the disk.
pub fn disk_bytes(content_len: usize) -> u64 {
    (content_len.max(1) as u64).div_ceil(4096) * 4096
}

#[derive(Clone, Debug)]
pub struct Entry {
    /// Index into the spool's held directories.
    pub dir: usize,
    pub events: u32,
    pub checksum: u64,
    pub disk_bytes: u64,
    /// For this process's own events: the sequence number of the batch's first message (flush
    /// waits for it). None for files left by another process.
    pub own_seq: Option<u64>,
    /// Being sent by a worker (or written): not to be drained or dropped.
    pub claimed: bool,
}

#[derive(Default)]
pub struct Index {
    files: BTreeMap<Key, Entry>,
    bytes: u64,
    unclaimed: usize,
}

impl Index {
    pub fn insert(&mut self, key: Key, entry: Entry) -> bool {
        if self.files.contains_key(&key) {
            return false;
        }
        self.bytes += entry.disk_bytes;
        self.unclaimed += usize::from(!entry.claimed);
        self.files.insert(key, entry);
        true
    }

    pub fn remove(&mut self, key: &Key) -> Option<Entry> {
        let entry = self.files.remove(key)?;
        self.bytes -= entry.disk_bytes;
        self.unclaimed -= usize::from(!entry.claimed);
        Some(entry)
    }

    pub fn get(&self, key: &Key) -> Option<&Entry> {
        self.files.get(key)
    }

    pub fn set_claimed(&mut self, key: &Key, claimed: bool) -> Option<&Entry> {
        let entry = self.files.get_mut(key)?;
        if entry.claimed != claimed {
            entry.claimed = claimed;
            if claimed {
                self.unclaimed -= 1;
            } else {
                self.unclaimed += 1;
            }
        }
        Some(entry)
    }

    /// The oldest file nobody is sending.
    pub fn oldest_unclaimed(&self) -> Option<(Key, &Entry)> {
        if self.unclaimed == 0 {
            return None;
        }
        self.files.iter().find(|(_, e)| !e.claimed).map(|(k, e)| (*k, e))
    }

    /// The oldest unclaimed file matching `pick`.
    pub fn oldest_unclaimed_where(&self, pick: impl Fn(&Entry) -> bool) -> Option<Key> {
        self.files.iter().find(|(_, e)| !e.claimed && pick(e)).map(|(k, _)| *k)
    }

    /// Disk bytes of unclaimed files (what dropping could free).
    pub fn unclaimed_bytes(&self) -> u64 {
        self.files.values().filter(|e| !e.claimed).map(|e| e.disk_bytes).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn unclaimed(&self) -> usize {
        self.unclaimed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(claimed: bool) -> Entry {
        Entry { dir: 0, events: 1, checksum: 0, disk_bytes: disk_bytes(10), own_seq: None, claimed }
    }

    #[test]
    fn oldest_unclaimed_and_totals() {
        let mut ix = Index::default();
        let k = |ms| Key { created_ms: ms, tag: 1, seq: 0 };
        assert!(ix.insert(k(3), entry(false)));
        assert!(ix.insert(k(1), entry(true)));
        assert!(ix.insert(k(2), entry(false)));
        assert!(!ix.insert(k(2), entry(false)), "a key is indexed once");
        assert_eq!((ix.len(), ix.unclaimed(), ix.bytes()), (3, 2, 3 * 4096));
        assert_eq!(ix.oldest_unclaimed().unwrap().0, k(2));
        ix.set_claimed(&k(2), true);
        assert_eq!(ix.oldest_unclaimed().unwrap().0, k(3));
        ix.set_claimed(&k(1), false);
        assert_eq!(ix.oldest_unclaimed().unwrap().0, k(1));
        ix.remove(&k(1));
        assert_eq!((ix.len(), ix.unclaimed(), ix.unclaimed_bytes()), (2, 1, 4096));
        assert_eq!(disk_bytes(0), 4096);
        assert_eq!(disk_bytes(4097), 8192);
    }
}
