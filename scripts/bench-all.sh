#!/usr/bin/env bash
# Runs every benchmark of the project and writes BENCHMARKS.md and docs/benchmarks.svg:
# the Rust core (criterion: caller cost, delivered throughput, Profile API), the 60 s outage RSS
# run, the disk spool's cost (caller cost and delivered events/s, spool on vs off, at 50 ms a
# request), and each binding's benchmark against Segment's own library (Go: analytics-go, Java:
# analytics-java, Ruby: the listener), and delivery at internet latency against every Segment
# library (scripts/bench-latency.sh, docs/latency.svg). Each part writes a JSON summary into target/bench/; the
# report is rendered from those by scripts/bench_report.py (matplotlib from PyPI, in a venv).
# Env: OUTAGE_SECS (60), LATENCY_* (see scripts/bench-latency.sh), SPOOL_BENCH_* (see
# benches/spool.rs), BENCH_SKIP="go java latency spool"
# to skip parts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
mkdir -p "$OUT" docs
skip() { [[ " ${BENCH_SKIP:-} " == *" $1 "* ]]; }
step() { printf '\n==> %s\n' "$*"; }

step "release build"
cargo build --release --locked -p flagwire -p flagwire-collector

if ! skip rust; then
  step "Rust core: cargo bench --bench core"
  cargo bench --locked --bench core -- --noplot 2>&1 | tee "$OUT/rust-core.log"
  python3 scripts/bench_report.py criterion target/criterion "$OUT/rust.json"
fi
if ! skip spool; then
  step "spool: cargo bench --bench spool (spool on vs off, ${SPOOL_BENCH_LATENCY_MS:-50} ms a request)"
  FLAGWIRE_BENCH_JSON="$OUT/spool.json" cargo bench --locked --bench spool 2>&1 | tee "$OUT/spool.log"
fi
if ! skip outage; then
  step "outage: cargo bench --bench outage (${OUTAGE_SECS:-60} s)"
  FLAGWIRE_BENCH_JSON="$OUT/outage.json" OUTAGE_SECS="${OUTAGE_SECS:-60}" cargo bench --locked --bench outage
fi
if ! skip dedupe; then
  step "dedupe window: cargo bench --bench dedupe"
  FLAGWIRE_BENCH_JSON="$OUT/dedupe.json" cargo bench --locked --bench dedupe
fi
for lang in go java ruby node python; do
  if ! skip "$lang" && [ -x "bindings/$lang/bench.sh" ]; then
    step "$lang binding: bindings/$lang/bench.sh"
    FLAGWIRE_BENCH_JSON="$OUT/$lang.json" "bindings/$lang/bench.sh" 2>&1 | tee "$OUT/$lang.log"
  fi
done

if ! skip latency; then
  step "delivery at internet latency: scripts/bench-latency.sh"
  FLAGWIRE_BENCH_JSON="$OUT/latency.json" scripts/bench-latency.sh 2>&1 | tee "$OUT/latency.log"
fi

step "report"
VENV=$ROOT/target/bench-venv
if ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'matplotlib>=3.8,<4'
fi
"$VENV/bin/python" scripts/bench_report.py report "$OUT" BENCHMARKS.md docs/benchmarks.svg
echo "wrote BENCHMARKS.md and docs/benchmarks.svg"
