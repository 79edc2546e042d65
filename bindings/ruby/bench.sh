#!/usr/bin/env bash
# Runs the Ruby listener benchmark (bench/listener_bench.rb) and prints the figures: ns per
# listener call (median, min..max of interleaved runs; wall and the caller's thread CPU). Needs
# the Rust release build (target/release/libflagwire.so). About 20 s with the defaults.
# Extra arguments go to the script, e.g. --runs 15 --calls 200000, or --endpoint
# http://127.0.0.1:PORT to send to a running collector instead of a closed port.
# FLAGWIRE_BENCH_JSON=PATH also writes the summary JSON for scripts/bench_report.py there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
args=()
if [[ -n "${FLAGWIRE_BENCH_JSON:-}" ]]; then
  # A relative path is relative to the caller's directory, not this one.
  json="$FLAGWIRE_BENCH_JSON"
  [[ "$json" == /* ]] || json="$OLDPWD/$json"
  args=(--json "$json")
fi
exec ruby -Ilib bench/listener_bench.rb "${args[@]}" "$@"
