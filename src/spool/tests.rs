//! The spool on its own, on real directories (the sender's use of it: tests/spool*.rs).

use super::*;
use crate::config::LogLevel;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flagwire-spool-{name}-{}", crate::ids::uuid_v4()));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(dir: &Path, max_bytes: u64, sync: SyncPolicy) -> Spool {
    let config = SpoolConfig { dir: dir.to_string_lossy().into_owned(), max_bytes, sync, sync_interval_ms: 10 };
    Spool::open(&config, &Logger::new(LogLevel::Off))
}

/// `n` messages of about `size` bytes each, joined.
fn batch(tag: &str, n: usize, size: usize) -> Vec<u8> {
    let pad = "x".repeat(size.saturating_sub(40));
    (0..n).map(|i| format!(r#"{{"messageId":"{tag}-{i}","p":"{pad}"}}"#)).collect::<Vec<_>>().join(",").into_bytes()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names.into_iter().filter(|n| n.ends_with(".json")).collect()
}

#[test]
fn a_written_file_is_a_batch_body_read_back_whole_and_removed_after_delivery() {
    let dir = temp_dir("write");
    let spool = open(&dir, 1 << 30, SyncPolicy::Always);
    let joined = batch("a", 3, 100);
    let w = spool.write(&joined, 3, Some(0), false);
    let key = w.key.expect("written");
    let names = files(&dir);
    assert_eq!(names.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&fs::read(dir.join(&names[0])).unwrap()).unwrap();
    assert_eq!(body["batch"].as_array().unwrap().len(), 3, "a valid /v1/batch body");
    assert_eq!(spool.backlog(), 1);
    let claim = spool.claim_oldest().unwrap();
    assert_eq!((claim.key, claim.events, claim.own_seq), (key, 3, Some(0)));
    assert_eq!(spool.backlog(), 0);
    assert!(spool.claim_oldest().is_none(), "a claimed file is not handed out twice");
    let (content, range) = spool.read(&claim).unwrap();
    assert_eq!(&content[range], &joined[..]);
    spool.remove(&claim.key);
    assert!(files(&dir).is_empty());
    assert_eq!(spool.size(), (0, 0));
    drop(spool);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_oldest_unclaimed_files_are_dropped_to_stay_within_the_bound() {
    let dir = temp_dir("bound");
    let spool = open(&dir, 1 << 20, SyncPolicy::Never);
    // ~300 KB files: three fit in 1 MiB, a fourth needs the oldest gone.
    let big = |t: &str| batch(t, 300, 1000);
    let first = spool.write(&big("a"), 300, Some(0), true).key.unwrap(); // claimed: being sent
    let second = spool.write(&big("b"), 300, Some(300), false).key.unwrap();
    spool.write(&big("c"), 300, None, false).key.unwrap();
    let w = spool.write(&big("d"), 300, Some(900), false);
    assert!(w.key.is_some());
    assert_eq!(w.dropped_own, vec![300], "the oldest unclaimed (not the claimed one) went");
    assert_eq!(spool.counters.dropped.load(Ordering::Relaxed), 300);
    let (n, bytes) = spool.size();
    assert!(n == 3 && bytes <= 1 << 20, "{n} files, {bytes} bytes");
    assert!(!files(&dir).iter().any(|f| f.contains(&format!("-{:010}-", second.seq))));
    assert!(files(&dir).iter().any(|f| f.contains(&format!("-{:010}-", first.seq))));
    // With every file claimed nothing can be dropped: the write is refused, nothing is lost.
    while spool.claim_oldest().is_some() {}
    let w = spool.write(&big("e"), 300, Some(1200), false);
    assert!(w.key.is_none() && w.dropped_own.is_empty());
    assert_eq!(spool.counters.unwritable.load(Ordering::Relaxed), 300);
    assert!(spool.writable(), "a full spool is not a broken one");
    // One batch larger than the whole bound is never written.
    assert!(spool.write(&batch("f", 1, 2 << 20), 1, None, false).key.is_none());
    drop(spool);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_later_owner_recovers_the_files_and_removes_torn_writes() {
    let dir = temp_dir("recover");
    let first = open(&dir, 1 << 30, SyncPolicy::Interval);
    for i in 0..3 {
        first.write(&batch(&format!("r{i}"), 2, 50), 2, Some(i * 2), false);
    }
    first.sync_unsynced();
    drop(first);
    fs::write(dir.join(file::tmp_name(0x1234, 9)), b"{\"batch\":[{\"half").unwrap();
    fs::write(dir.join("notes.txt"), b"not ours").unwrap();
    let second = open(&dir, 1 << 30, SyncPolicy::Never);
    assert_eq!(second.backlog(), 0, "nothing before the first scan");
    second.maintain();
    assert_eq!(second.backlog(), 3);
    assert_eq!(second.counters.recovered.load(Ordering::Relaxed), 6);
    assert_eq!(second.counters.corrupt_files.load(Ordering::Relaxed), 1, "the torn write");
    assert!(dir.join("notes.txt").exists(), "files that are not ours are left alone");
    assert!(!dir.join(file::tmp_name(0x1234, 9)).exists());
    let claim = second.claim_oldest().unwrap();
    assert_eq!(claim.own_seq, None, "not this process's events");
    let (content, range) = second.read(&claim).unwrap();
    assert!(content[range].starts_with(br#"{"messageId":"r0-0""#), "oldest first");
    drop(second);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_file_is_skipped_counted_and_removed() {
    let dir = temp_dir("corrupt");
    let spool = open(&dir, 1 << 30, SyncPolicy::Never);
    spool.write(&batch("c", 2, 50), 2, None, false).key.unwrap();
    let name = &files(&dir)[0];
    let mut bytes = fs::read(dir.join(name)).unwrap();
    bytes[15] ^= 1;
    fs::write(dir.join(name), &bytes).unwrap();
    let claim = spool.claim_oldest().unwrap();
    assert!(spool.read(&claim).is_none());
    assert_eq!(spool.counters.corrupt_files.load(Ordering::Relaxed), 1);
    assert!(files(&dir).is_empty());
    assert_eq!(spool.size(), (0, 0));
    drop(spool);
    // A file far larger than any batch under a name of the right shape is not read into memory.
    let huge = FileName { key: Key { created_ms: 1, tag: 7, seq: 1 }, events: 1, checksum: 0 };
    fs::write(dir.join(huge.render()), vec![b'x'; 2 << 20]).unwrap();
    let spool = open(&dir, 1 << 30, SyncPolicy::Never);
    spool.maintain();
    let claim = spool.claim_oldest().unwrap();
    assert!(spool.read(&claim).is_none());
    assert_eq!(spool.counters.corrupt_files.load(Ordering::Relaxed), 1);
    drop(spool);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_owner_gets_a_subdirectory_which_the_first_adopts_once_it_is_gone() {
    let dir = temp_dir("share");
    let first = open(&dir, 1 << 30, SyncPolicy::Never);
    let second = open(&dir, 1 << 30, SyncPolicy::Never);
    second.write(&batch("s", 4, 50), 4, Some(0), false).key.unwrap();
    assert!(files(&dir).is_empty(), "the second never writes into the first's directory");
    let sub = fs::read_dir(&dir).unwrap().flatten().find(|e| e.file_name().to_string_lossy().starts_with(lock::SUBDIR_PREFIX)).unwrap().path();
    assert_eq!(files(&sub).len(), 1);
    first.maintain();
    assert_eq!(first.backlog(), 0, "a live owner's subdirectory is not adopted");
    drop(second);
    assert!(sub.exists(), "a subdirectory with files stays after its owner");
    first.maintain();
    assert_eq!((first.backlog(), first.counters.recovered.load(Ordering::Relaxed)), (1, 4));
    let claim = first.claim_oldest().unwrap();
    first.read(&claim).unwrap();
    first.remove(&claim.key);
    assert!(!sub.exists(), "an adopted subdirectory goes once drained");
    // An empty subdirectory goes with its owner.
    let third = open(&dir, 1 << 30, SyncPolicy::Never);
    drop(third);
    assert_eq!(fs::read_dir(&dir).unwrap().flatten().filter(|e| e.path().is_dir()).count(), 0);
    drop(first);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_subdirectory_owner_takes_the_root_over_when_its_owner_is_gone() {
    let dir = temp_dir("takeover");
    let first = open(&dir, 1 << 30, SyncPolicy::Never);
    let second = open(&dir, 1 << 30, SyncPolicy::Never);
    first.write(&batch("t", 2, 50), 2, Some(0), false).key.unwrap();
    second.maintain();
    assert_eq!(second.backlog(), 0);
    drop(first);
    second.maintain();
    assert_eq!(second.backlog(), 1, "the root's files are the second's to send now");
    drop(second);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unusable_directory_leaves_the_spool_memory_only() {
    let dir = temp_dir("unusable");
    let not_a_dir = dir.join("file");
    fs::write(&not_a_dir, b"x").unwrap();
    let spool = open(&not_a_dir, 1 << 30, SyncPolicy::Never);
    assert!(!spool.writable());
    assert!(spool.write(b"{}", 1, Some(0), false).key.is_none());
    assert_eq!(spool.counters.unwritable.load(Ordering::Relaxed), 1);
    assert_eq!(spool.status_line().0, LogLevel::Warn);
    drop(spool);
    fs::remove_dir_all(&dir).unwrap();
}
