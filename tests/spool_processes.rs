//! The spool and processes (issue 17, docs/design.md §5.1): a forked child never writes into or
//! removes its parent's files and its leftovers are adopted once it is gone; a forked child does
//! not keep its parent's lock after the parent dies; a second process on the directory gets a
//! subdirectory, and takes the directory over when its owner is gone; a read-only directory and
//! failing writes leave delivery memory-only with a warning in the host's log. One #[test]: no
//! other test thread runs during fork().

mod common;
#[path = "spool_util/mod.rs"]
mod spool_util;

use common::*;
use flagwire::ffi::flagwire_set_log_callback;
use flagwire::FlagwireLogLevel;
use serde_json::{json, Value};
use spool_util::*;
use std::collections::{BTreeMap, HashSet};
use std::ffi::{c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

static LOG: Mutex<Vec<(FlagwireLogLevel, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn capture(_: *mut c_void, level: FlagwireLogLevel, message: *const c_char, len: usize) {
    let bytes = unsafe { std::slice::from_raw_parts(message.cast::<u8>(), len) };
    LOG.lock().unwrap().push((level, String::from_utf8_lossy(bytes).into_owned()));
}

fn warned(needle: &str) -> bool {
    LOG.lock().unwrap().iter().any(|(l, m)| *l == FlagwireLogLevel::Warn && m.contains("spool") && m.contains(needle))
}

/// Names and contents of the batch files directly in `dir` (not its subdirectories).
fn root_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file() && e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect()
}

fn users_in(files: &[PathBuf]) -> HashSet<String> {
    files.iter().flat_map(|f| file_messages(f)).map(|m| m["userId"].as_str().unwrap().to_string()).collect()
}

fn users(prefix: &str, n: usize) -> HashSet<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Quick retries, quiet unless warning.
fn quick() -> Value {
    json!({"batch_size": 10, "flush_interval_ms": 10, "max_retries": 0, "backoff_base_ms": 5, "backoff_max_ms": 20, "log_level": "warn"})
}

#[test]
fn the_spool_across_fork_processes_and_unusable_directories() {
    forked_child_keeps_to_its_own_subdirectory_and_is_adopted_when_gone();
    a_child_does_not_keep_its_dead_parents_lock();
    two_processes_share_a_directory_and_the_survivor_takes_it_over();
    a_read_only_directory_leaves_delivery_memory_only_with_a_warning();
    failing_writes_leave_delivery_memory_only_with_a_warning();
}

fn forked_child_keeps_to_its_own_subdirectory_and_is_adopted_when_gone() {
    let dir = TempDir::new("fork");
    let port = dead_port();
    let client = TestClient::new(&spool_config(&format!("http://127.0.0.1:{port}"), &dir, quick(), json!({})));
    for i in 0..40 {
        assert_eq!(offer(&client, &format!("p{i}")), Status::Ok);
    }
    assert_eq!(client.flush(300), Status::Timeout, "the receiver is down");
    let stats = wait_stats(&client, Duration::from_secs(10), |s| stat(s, "spool_safe") == 40);
    assert_eq!(stat(&stats, "spool_safe"), 40, "{stats}");
    let before = root_files(dir.path());
    assert!(!before.is_empty());

    let status = in_child(|| {
        // The child's first call gives it its own pipeline and its own subdirectory.
        let offered = (0..30).all(|i| offer(&client, &format!("c{i}")) == Status::Ok);
        let waited = client.flush(300) == Status::Timeout;
        let written = stat(&wait_stats(&client, Duration::from_secs(10), |s| stat(s, "spool_safe") == 30), "spool_safe") == 30;
        let untouched = root_files(dir.path()) == before;
        // Shut down in the child too, as an exit hook would: its events stay in its subdirectory.
        let moved = unsafe { std::ptr::read(&client) };
        let shut = moved.shutdown(300) == Status::Timeout;
        let subs = subdirs(dir.path());
        let own = subs.len() == 1 && users_in(&spool_files(&subs[0])) == users("c", 30);
        offered && waited && written && untouched && shut && own && root_files(dir.path()) == before
    });
    assert_eq!(status, 0, "child failed (status {status})");
    assert_eq!(root_files(dir.path()), before, "the child never wrote into or removed the parent's files");
    let subs = subdirs(dir.path());
    assert_eq!(subs.len(), 1);
    assert_eq!(users_in(&spool_files(&subs[0])), users("c", 30));

    // The receiver is back: the parent delivers its own and adopts the dead child's.
    let col = collector_on(port, 0);
    let stats = wait_stats(&client, Duration::from_secs(20), |s| {
        stat(s, "spool_recovered") == 30 && stat(s, "spool_files") == 0 && stat(s, "queue_depth") == 0
    });
    assert_eq!((stat(&stats, "spool_recovered"), stat(&stats, "delivered"), stat(&stats, "queue_depth")), (30, 70, 0), "{stats}");
    let by_user = deliveries(&col.messages());
    assert_eq!(by_user.keys().cloned().collect::<HashSet<_>>(), users("p", 40).union(&users("c", 30)).cloned().collect());
    assert!(by_user.values().all(|ids| ids.len() == 1), "each once");
    assert!(subdirs(dir.path()).is_empty(), "the adopted subdirectory is removed once drained");
    assert_eq!(client.shutdown(5000), Status::Ok);
}

fn a_child_does_not_keep_its_dead_parents_lock() {
    let dir = TempDir::new("inherit");
    let port = dead_port();
    let cfg = spool_config(&format!("http://127.0.0.1:{port}"), &dir, quick(), json!({}));
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // X owns the directory, forks Y (which only sleeps), and dies without a shutdown.
    let status = in_child(|| {
        let x = TestClient::new(&cfg);
        assert_eq!(offer(&x, "x0"), Status::Ok);
        match unsafe { libc::fork() } {
            0 => {
                unsafe { libc::close(fds[1]) };
                std::thread::sleep(Duration::from_secs(20));
                unsafe { libc::_exit(0) }
            }
            y => {
                let text = format!("{y}\n");
                unsafe { libc::write(fds[1], text.as_ptr().cast(), text.len()) };
                std::mem::forget(x);
                true
            }
        }
    });
    assert_eq!(status, 0);
    unsafe { libc::close(fds[1]) };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) }, &mut text).unwrap();
    let y: i32 = text.trim().parse().unwrap();
    // X is gone and Y lives on: the directory is free for the next owner.
    let next = TestClient::new(&cfg);
    assert_eq!(offer(&next, "n0"), Status::Ok);
    assert_eq!(next.flush(300), Status::Timeout);
    wait_stats(&next, Duration::from_secs(10), |s| stat(s, "spool_safe") == 1);
    let in_root: HashSet<String> = root_files(dir.path()).keys().flat_map(|n| users_in(&[dir.path().join(n)])).collect();
    unsafe { libc::kill(y, libc::SIGKILL) };
    unsafe { libc::waitpid(y, std::ptr::null_mut(), 0) };
    assert!(in_root.contains("n0"), "the next client wrote into a subdirectory: the forked child kept its dead parent's lock");
    assert!(subdirs(dir.path()).is_empty());
    drop(next);
}

fn two_processes_share_a_directory_and_the_survivor_takes_it_over() {
    // Both deliver at once; the second writes into a subdirectory it removes when done.
    let dir = TempDir::new("two");
    let col = collector();
    let owner = TestClient::new(&spool_config(&col.url(), &dir, quick(), json!({})));
    let status = in_child(|| {
        let second = TestClient::new(&spool_config(&col.url(), &dir, quick(), json!({})));
        let pid = std::process::id().to_string();
        let sub = subdirs(dir.path()).into_iter().any(|p| p.file_name().unwrap().to_string_lossy().contains(&format!("proc-{pid}-")));
        let offered = (0..200).all(|i| {
            if i % 20 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            offer(&second, &format!("q{i}")) == Status::Ok
        });
        let delivered = second.flush(20_000) == Status::Ok;
        sub && offered && delivered && second.shutdown(5000) == Status::Ok
    });
    // (The parent's client sat idle during the fork; now it sends too.)
    for i in 0..200 {
        assert_eq!(offer(&owner, &format!("m{i}")), Status::Ok);
    }
    assert_eq!(owner.flush(20_000), Status::Ok);
    assert_eq!(status, 0, "the second process failed (status {status})");
    let by_user = deliveries(&col.messages());
    assert_eq!(by_user.len(), 400);
    assert!(by_user.values().all(|ids| ids.len() == 1));
    assert!(subdirs(dir.path()).is_empty(), "the second process's empty subdirectory went with it");
    assert_eq!(owner.shutdown(5000), Status::Ok);

    // The owner leaves files and exits while the other still runs: the other takes over.
    let dir = TempDir::new("takeover");
    let port = dead_port();
    let cfg = spool_config(&format!("http://127.0.0.1:{port}"), &dir, quick(), json!({}));
    let (mut ready, mut go) = ([0i32; 2], [0i32; 2]);
    assert!(unsafe { libc::pipe(ready.as_mut_ptr()) == 0 && libc::pipe(go.as_mut_ptr()) == 0 });
    let pid = fork_child(|| {
        let first = TestClient::new(&cfg);
        unsafe { libc::write(ready[1], b"r".as_ptr().cast(), 1) };
        let mut byte = 0u8;
        unsafe { libc::read(go[0], (&mut byte as *mut u8).cast(), 1) };
        (0..20).all(|i| offer(&first, &format!("r{i}")) == Status::Ok) && first.shutdown(300) == Status::Timeout
    });
    let mut byte = 0u8;
    assert_eq!(unsafe { libc::read(ready[0], (&mut byte as *mut u8).cast(), 1) }, 1);
    let survivor = TestClient::new(&cfg);
    assert_eq!(subdirs(dir.path()).len(), 1, "the survivor took a subdirectory");
    unsafe { libc::write(go[1], b"g".as_ptr().cast(), 1) };
    assert_eq!(wait_child(pid), 0);
    assert_eq!(users_in(&root_files(dir.path()).keys().map(|n| dir.path().join(n)).collect::<Vec<_>>()), users("r", 20));
    let col = collector_on(port, 0);
    let stats = wait_stats(&survivor, Duration::from_secs(20), |s| stat(s, "spool_recovered") == 20 && stat(s, "spool_files") == 0);
    assert_eq!((stat(&stats, "spool_recovered"), stat(&stats, "delivered")), (20, 20), "{stats}");
    assert_eq!(deliveries(&col.messages()).into_keys().collect::<HashSet<_>>(), users("r", 20));
    for fd in [ready[0], ready[1], go[0], go[1]] {
        unsafe { libc::close(fd) };
    }
    drop(survivor);
}

fn a_read_only_directory_leaves_delivery_memory_only_with_a_warning() {
    let dir = TempDir::new("readonly");
    let spool_dir = dir.path().join("spool");
    std::fs::create_dir(&spool_dir).unwrap();
    std::fs::set_permissions(&spool_dir, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let col = collector();
    let cfg = {
        let mut c = config(&col.url(), json!({"log_level": "warn"}));
        c["spool"] = json!({"dir": spool_dir.to_string_lossy()});
        c
    };
    let status = in_child(|| {
        // Root writes anywhere: drop to nobody for a directory that is really read-only.
        if unsafe { libc::geteuid() } == 0 {
            let ok = unsafe { libc::setgroups(0, std::ptr::null()) == 0 && libc::setgid(65534) == 0 && libc::setuid(65534) == 0 };
            assert!(ok, "cannot drop root privileges for the read-only test");
        }
        assert!(std::fs::write(spool_dir.join("probe"), b"x").is_err(), "the directory is writable");
        let client = TestClient::new(&cfg);
        assert_eq!(unsafe { flagwire_set_log_callback(client.raw(), Some(capture), std::ptr::null_mut()) }, Status::Ok);
        let offered = (0..20).all(|i| offer(&client, &format!("ro{i}")) == Status::Ok);
        let delivered = client.flush(10_000) == Status::Ok;
        let stats = client.stats();
        offered && delivered && stat(&stats, "delivered") == 20 && stat(&stats, "spool_unwritable") == 20 && warned("memory-only")
    });
    assert_eq!(status, 0, "child failed (status {status})");
    assert_eq!(deliveries(&wait_messages(&col, 20)).len(), 20);
}

fn failing_writes_leave_delivery_memory_only_with_a_warning() {
    // A file size limit makes every large write fail (EFBIG), as a full disk fails it (ENOSPC).
    let dir = TempDir::new("full");
    let col = collector();
    let mut cfg = spool_config(&col.url(), &dir, json!({"batch_size": 300, "flush_interval_ms": 50, "log_level": "warn"}), json!({}));
    cfg["spool"]["sync"] = json!("always");
    let status = in_child(|| {
        let limit = libc::rlimit { rlim_cur: 64 * 1024, rlim_max: 64 * 1024 };
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
        let client = TestClient::new(&cfg);
        assert_eq!(unsafe { flagwire_set_log_callback(client.raw(), Some(capture), std::ptr::null_mut()) }, Status::Ok);
        let offered = (0..600).all(|i| offer(&client, &format!("fd{i}")) == Status::Ok);
        let delivered = client.flush(15_000) == Status::Ok;
        let stats = client.stats();
        offered && delivered && stat(&stats, "delivered") == 600 && stat(&stats, "spool_unwritable") > 0 && warned("cannot write")
    });
    assert_eq!(status, 0, "child failed (status {status})");
    let by_user = deliveries(&wait_messages(&col, 600));
    assert_eq!(by_user.len(), 600);
    assert!(spool_files(dir.path()).is_empty(), "no half-written file left: {:?}", spool_files(dir.path()));
}
