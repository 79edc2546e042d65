//! The stdout printer: one human-readable line per accepted message, written by a thread fed
//! through a bounded channel so that request handling only ever `try_send`s and never blocks.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{Map, Value};

/// Lines queued for the printer thread before lines are skipped.
const PRINT_QUEUE: usize = 8192;

pub(crate) struct Printer {
    tx: SyncSender<Arc<str>>,
    skipped: Arc<AtomicU64>,
}

impl Printer {
    pub(crate) fn spawn() -> io::Result<Printer> {
        let (tx, rx) = sync_channel::<Arc<str>>(PRINT_QUEUE);
        let skipped = Arc::new(AtomicU64::new(0));
        let sk = skipped.clone();
        thread::Builder::new()
            .name("collector-printer".into())
            .spawn(move || printer_loop(rx, sk))?;
        Ok(Printer { tx, skipped })
    }

    pub(crate) fn send(&self, m: Arc<str>) {
        match self.tx.try_send(m) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn printer_loop(rx: Receiver<Arc<str>>, skipped: Arc<AtomicU64>) {
    let stdout = io::stdout();
    let report_skipped = |out: &mut dyn Write| {
        let n = skipped.swap(0, Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(out, "... {n} events not printed");
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(first) => {
                let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
                let _ = writeln!(out, "{}", format_line(&first));
                let mut n = 1;
                while n < 4096 {
                    match rx.try_recv() {
                        Ok(m) => {
                            let _ = writeln!(out, "{}", format_line(&m));
                            n += 1;
                        }
                        Err(_) => break,
                    }
                }
                report_skipped(&mut out);
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Timeout) => {
                let mut out = stdout.lock();
                report_skipped(&mut out);
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Disconnected) => {
                let mut out = stdout.lock();
                report_skipped(&mut out);
                let _ = out.flush();
                return;
            }
        }
    }
}

/// `track  "Experiment Viewed"  userId=user-42  checkout_flow/checkout_ab -> treatment`
pub fn format_line(raw: &str) -> String {
    let v: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(_) => return raw.to_owned(),
    };
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("?");
    let mut line = ty.to_owned();
    let name = match ty {
        "track" => v.get("event"),
        "page" | "screen" => v.get("name"),
        "group" => v.get("groupId"),
        "alias" => v.get("previousId"),
        _ => None,
    };
    if let Some(n) = name.filter(|n| !n.is_null()) {
        line.push_str("  ");
        line.push_str(&n.to_string());
    }
    let id = |k: &str| {
        v.get(k).filter(|x| !x.is_null()).map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    if let Some(u) = id("userId") {
        line.push_str(&format!("  userId={u}"));
    } else if let Some(a) = id("anonymousId") {
        line.push_str(&format!("  anonymousId={a}"));
    }
    let props = v
        .get("properties")
        .or_else(|| v.get("traits"))
        .and_then(Value::as_object);
    let ps = |p: &Map<String, Value>, k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    let summary = match props {
        Some(p) if ps(p, "flagKey").is_some() || ps(p, "variationKey").is_some() => {
            let flag = ps(p, "flagKey").unwrap_or_else(|| "?".into());
            let var = ps(p, "variationKey").unwrap_or_else(|| "?".into());
            match ps(p, "ruleKey") {
                Some(rule) => format!("{flag}/{rule} -> {var}"),
                None => format!("{flag} -> {var}"),
            }
        }
        Some(p) if ps(p, "experiment_name").is_some() || ps(p, "variation_name").is_some() => {
            format!(
                "{} -> {}",
                ps(p, "experiment_name").unwrap_or_else(|| "?".into()),
                ps(p, "variation_name").unwrap_or_else(|| "?".into())
            )
        }
        Some(p) if !p.is_empty() => Value::Object(p.clone()).to_string(),
        _ => raw.to_owned(),
    };
    line.push_str("  ");
    line.push_str(&truncate(&summary, 400));
    line
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
