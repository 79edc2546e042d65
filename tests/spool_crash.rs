//! kill -9 under load (issue 17, docs/design.md §5.1): a forked child offers decisions to a
//! client with a spool while the collector answers slowly, fails, drops connections; the test
//! kills it with SIGKILL at a random moment, 24 times, each child on the directory the last one
//! left. A last client delivers what is left. Then: every event the killed process reported as
//! written (`spool_safe`) was delivered, no event that was not offered was, and a repeat of an
//! event carries the same messageId. One #[test]: no other test thread runs during fork().

mod common;
#[path = "spool_util/mod.rs"]
mod spool_util;

use common::*;
use serde_json::json;
use spool_util::*;
use std::collections::HashMap;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

const CYCLES: usize = 24;
/// The child reports after this many accepted events.
const REPORT_EVERY: usize = 20;

/// xorshift64*: the kill times (no dev-dependency for randomness; the seed is printed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// In the child: offers user `c<cycle>-<k>` for k = 0, 1, ... (retrying k until accepted, so the
/// k-th accepted event is user k and queue position k), ~2,000 a second, and writes
/// `<accepted> <spool_safe>` to `report` every REPORT_EVERY events. Never returns.
fn child(cfg: &serde_json::Value, cycle: usize, report: i32) -> ! {
    let client = TestClient::new(cfg);
    let mut accepted = 0usize;
    let started = Instant::now();
    loop {
        let user = format!("c{cycle}-{accepted}");
        if offer(&client, &user) == Status::Ok {
            accepted += 1;
        }
        if accepted.is_multiple_of(REPORT_EVERY) {
            let safe = stat(&client.stats(), "spool_safe");
            let line = format!("{accepted} {safe}\n");
            unsafe { libc::write(report, line.as_ptr().cast(), line.len()) };
        }
        // ~2,000 events a second.
        let due = started + Duration::from_micros(500 * accepted as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

struct Cycle {
    /// Users 0..safe were written or delivered before the kill, by the child's own account.
    safe: usize,
    /// No user at or above this was ever offered.
    offered_below: usize,
    /// Messages the collector held right after the child died.
    collected_at_kill: usize,
}

#[test]
fn kill_9_at_random_moments_loses_nothing_written_and_repeats_only_with_the_same_message_id() {
    let col = Collector::start(CollectorOptions { write_keys: vec![WRITE_KEY.into()], latency_ms: 20, ..Default::default() }).unwrap();
    let dir = TempDir::new("crash");
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("kill-9 loop: seed {seed}");
    let mut rng = Rng(seed);
    let mut cycles = Vec::new();
    for cycle in 0..CYCLES {
        // Faults for the child to meet: an outage (503s beyond the retries), dropped connections,
        // slow answers (requests on the wire when the kill comes).
        match cycle % 4 {
            1 => col.script(vec![Step::status(503); 12]),
            2 => col.script(vec![Step::Drop; 4]),
            3 => col.script(vec![Step::Status { code: 200, retry_after: None, delay_ms: 300 }; 3]),
            _ => {}
        }
        let sync = ["never", "interval", "always"][cycle % 3];
        let cfg = spool_config(
            &col.url(),
            &dir,
            json!({"batch_size": 25, "flush_interval_ms": 20, "max_retries": 1, "backoff_base_ms": 5, "backoff_max_ms": 40,
                   "request_timeout_ms": 5000}),
            json!({"sync": sync, "sync_interval_ms": 50}),
        );
        let mut fds = [0i32; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let pid = fork_child(|| {
            unsafe { libc::close(fds[0]) };
            child(&cfg, cycle, fds[1])
        });
        unsafe { libc::close(fds[1]) };
        std::thread::sleep(Duration::from_millis(40 + rng.below(360)));
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        let status = wait_child(pid);
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL, "child ended on its own: {status}");
        let mut text = String::new();
        unsafe { std::fs::File::from_raw_fd(fds[0]) }.read_to_string(&mut text).unwrap();
        let (mut accepted, mut safe) = (0, 0);
        for line in text.lines() {
            let mut parts = line.split(' ').map(|p| p.parse::<usize>().unwrap());
            let (a, s) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(s <= a, "spool_safe {s} above the events accepted {a}");
            (accepted, safe) = (a, s);
        }
        cycles.push(Cycle { safe, offered_below: accepted + REPORT_EVERY + 1, collected_at_kill: col.message_count() });
    }

    // A last client on the same directory delivers what the last child left (and whatever any
    // earlier one left that a later child did not get to).
    let last = TestClient::new(&spool_config(&col.url(), &dir, json!({}), json!({})));
    let stats = wait_stats(&last, Duration::from_secs(60), |s| {
        stat(s, "spool_files") == 0 && stat(s, "queue_depth") == 0 && spool_files(dir.path()).is_empty()
    });
    assert_eq!(stat(&stats, "spool_files"), 0, "{stats}");
    assert!(spool_files(dir.path()).is_empty(), "left on disk: {:?}", spool_files(dir.path()));
    assert_eq!(last.shutdown(5000), Status::Ok);

    let messages = col.messages();
    let by_user = deliveries(&messages);
    let repeats = assert_repeats_share_message_ids(&by_user);
    let mut lost = Vec::new();
    let mut delivered_later = 0;
    let first_seen: HashMap<&str, usize> = messages.iter().enumerate().rev().map(|(i, m)| (m["userId"].as_str().unwrap(), i)).collect();
    for (c, cy) in cycles.iter().enumerate() {
        for k in 0..cy.safe {
            match first_seen.get(format!("c{c}-{k}").as_str()) {
                None => lost.push(format!("c{c}-{k}")),
                Some(&i) if i >= cy.collected_at_kill => delivered_later += 1,
                Some(_) => {}
            }
        }
    }
    for user in by_user.keys() {
        let (c, k) = user.trim_start_matches('c').split_once('-').unwrap();
        let (c, k): (usize, usize) = (c.parse().unwrap(), k.parse().unwrap());
        assert!(k < cycles[c].offered_below, "{user} was never offered");
    }
    let safe: usize = cycles.iter().map(|c| c.safe).sum();
    let at_risk: usize = cycles.iter().enumerate().map(|(c, cy)| (cy.safe..cy.offered_below).filter(|k| by_user.contains_key(&format!("c{c}-{k}"))).count()).sum();
    eprintln!(
        "kill-9 loop: {CYCLES} kills, {} users delivered ({} deliveries, {repeats} repeats), {safe} reported written, \
         {delivered_later} of them delivered by a later process, {at_risk} more (not yet written at the last report) delivered too",
        by_user.len(),
        messages.len()
    );
    assert!(lost.is_empty(), "{} events reported written were lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(10)]);
    assert!(delivered_later > 0, "no kill left anything for the next process: the test did not exercise recovery");
    assert!(safe >= CYCLES * REPORT_EVERY, "the children hardly ran: {safe} events written");
}
