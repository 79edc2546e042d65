//! `flagwire-collector [--port N] [--write-key K]... [--profiles FILE] [--latency-ms N]
//! [--jitter-ms N] [--lenient-json] [--datafile FILE] [--quiet]`
//!
//! Prints the base URL (`http://127.0.0.1:PORT`) as the first stdout line, then one line per
//! accepted message unless `--quiet`, and runs until killed.

use std::io::Write;
use std::process::exit;

use flagwire_collector::{Collector, CollectorOptions, MAX_LATENCY_MS};

const USAGE: &str = "usage: flagwire-collector [--port N] [--write-key K]... [--profiles FILE]
                          [--latency-ms N] [--jitter-ms N] [--lenient-json]
                          [--datafile FILE] [--quiet]

Segment-compatible test collector on 127.0.0.1. Prints its base URL as the first stdout line,
then one line per accepted message (unless --quiet). Runs until killed. Open the base URL in
a browser for the live exposure page.

  --port N         port to bind on 127.0.0.1 (default 0: an ephemeral port)
  --write-key K    accepted write key (repeatable; default: any non-empty key)
  --profiles FILE  Profile API fixture (JSON) served under /v1/spaces/ from the start
                   (also settable at run time with POST /_test/profiles)
  --latency-ms N   answer each Segment /v1/* request only after N ms, standing in for the
                   internet (default 0; also POST /_test/latency {\"latency_ms\":N,\"jitter_ms\":M})
  --jitter-ms N    plus a uniform random 0..=N ms drawn per request (default 0)
  --lenient-json   accept numbers outside the f64 range, lone surrogate escapes and duplicate
                   keys (default: answer 400 as strict Segment-compatible receivers do)
  --datafile FILE  Optimizely datafile for the live page at / (exposures per variation
                   against the traffic allocation, SRM check; also POST /_test/datafile)
  --quiet, -q      do not print accepted messages
  --help, -h       this text";

fn fail(msg: &str) -> ! {
    eprintln!("flagwire-collector: {msg}\n\n{USAGE}");
    exit(2)
}

/// A delay flag's value: an integer in 0..=MAX_LATENCY_MS.
fn millis(name: &str, v: &str) -> u64 {
    v.parse::<u64>()
        .ok()
        .filter(|&ms| ms <= MAX_LATENCY_MS)
        .unwrap_or_else(|| {
            fail(&format!(
                "{name} must be an integer 0..={MAX_LATENCY_MS}, got {v:?}"
            ))
        })
}

fn main() {
    let mut opts = CollectorOptions {
        print: true,
        ..CollectorOptions::default()
    };
    let mut profiles: Option<(String, String)> = None;
    let mut datafile: Option<(String, String)> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> String {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| fail(&format!("{name} needs {what}")))
        };
        match name.as_str() {
            "--port" | "-p" => {
                let v = value("a port number");
                opts.port = v
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("invalid port {v:?}")));
            }
            "--write-key" | "-k" => opts.write_keys.push(value("a key")),
            "--profiles" => {
                let path = value("a fixture file");
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")));
                profiles = Some((path, text));
            }
            "--latency-ms" => opts.latency_ms = millis(&name, &value("milliseconds")),
            "--jitter-ms" => opts.jitter_ms = millis(&name, &value("milliseconds")),
            "--lenient-json" => opts.lenient_json = true,
            "--datafile" => {
                let path = value("a datafile");
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")));
                datafile = Some((path, text));
            }
            "--quiet" | "-q" => opts.print = false,
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            _ => fail(&format!("unknown argument {arg:?}")),
        }
    }

    // Hold stdout while starting so that the URL is always the first line (the printer thread
    // writes through the same lock).
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let collector = match Collector::start(opts) {
        Ok(c) => c,
        Err(e) => {
            drop(out);
            eprintln!("flagwire-collector: cannot listen: {e}");
            exit(1)
        }
    };
    if let Some((path, text)) = &profiles {
        if let Err(e) = collector.set_profiles_json(text) {
            drop(out);
            fail(&format!("{path}: {e}"));
        }
    }
    if let Some((path, text)) = &datafile {
        if let Err(e) = collector.set_datafile_json(text) {
            drop(out);
            fail(&format!("{path}: {e}"));
        }
    }
    let _ = writeln!(out, "{}", collector.url());
    let _ = out.flush();
    drop(out);

    loop {
        std::thread::park();
    }
}
