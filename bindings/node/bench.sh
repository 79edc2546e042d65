#!/usr/bin/env bash
# Benchmarks the Node binding against what teams write today, a DECISION listener calling
# analytics.track() with @segment/analytics-node (bench/bench.js), in one process against one
# local collector: caller cost per decision, decide() with the listener attached, and delivered
# events/s at 0, 20, 50 and 200 ms per request. Installs the dev dependencies and builds the addon
# as test.sh does; needs the Rust release build. About 3 minutes with the defaults.
# Extra arguments go to bench/bench.js (--rounds N --calls N --events N --latencies 0,20,50,200).
# FLAGWIRE_BENCH_JSON=PATH also writes the summary JSON for scripts/bench_report.py there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
args=()
if [[ -n "${FLAGWIRE_BENCH_JSON:-}" ]]; then
  # A relative path is relative to the caller's directory, not this one.
  json="$FLAGWIRE_BENCH_JSON"
  [[ "$json" == /* ]] || json="$PWD/$json"
  args=(--json "$json")
fi
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
scripts/build-native.sh
unset FLAGWIRE_LIBRARY_PATH
exec node --expose-gc bench/bench.js "${args[@]}" "$@"
