#!/usr/bin/env bash
# Delivery at internet latency (issue 11): delivered events/s, requests/s and peak RSS of the
# sending process for flagwire's defaults and each Segment library's defaults, against one test
# collector whose per-request latency is 0, 20, 50 and 200 ms, in one run. See benches/latency/README.md.
#
# Writes the summary JSON for scripts/bench_report.py to $FLAGWIRE_BENCH_JSON
# (default target/bench/latency.json); logs of each harness under target/bench/latency-logs/.
# Env: LATENCY_SECS (4) offering window per run, LATENCY_RATE (200000) offered events/s,
#      LATENCY_REPS (3), LATENCY_LIST ("0,20,50,200") ms, LATENCY_DRAIN_SECS (6) cap after the
#      window, LATENCY_LIBS ("flagwire analytics-go analytics-java analytics-python") to run fewer.
#      Quick look: LATENCY_SECS=2 LATENCY_REPS=1 LATENCY_LIST=50 scripts/bench-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/benches/latency
OUT="${FLAGWIRE_BENCH_JSON:-$ROOT/target/bench/latency.json}"
mkdir -p "$(dirname "$OUT")"
LIBS=" ${LATENCY_LIBS:-flagwire analytics-go analytics-java analytics-python} "
want() { [[ "$LIBS" == *" $1 "* ]]; }
step() { printf '\n==> %s\n' "$*"; }

step "latency: building the collector and the harnesses"
cargo build --release --locked -p flagwire-collector
# flagwire: the core through its C ABI (benches/latency/flagwire.rs), defaults.
FLAGWIRE_BIN=$(cargo bench --locked --bench latency --no-run --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "latency" and m.get("executable"):
        print(m["executable"])')
[[ -x "$FLAGWIRE_BIN" ]] || { echo "bench-latency.sh: cannot build the flagwire harness" >&2; exit 1; }
args=(--lib "flagwire=$FLAGWIRE_BIN" --version "flagwire=$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2) (Rust core, C ABI)")

if want analytics-go; then
  (cd "$BENCH/go" && go build -o "$ROOT/target/latency-go" .)
  args+=(--lib "analytics-go=$ROOT/target/latency-go"
         --version "analytics-go=$(cd "$BENCH/go" && go list -m -f '{{.Version}}' github.com/segmentio/analytics-go/v3) ($(go env GOVERSION))")
fi
if want analytics-java; then
  mvn -B -ntp -q -Dstyle.color=never -f "$BENCH/java/pom.xml" package
  JT=$BENCH/java/target
  args+=(--lib "analytics-java=java -cp $JT/latency-java-0.1.0-SNAPSHOT.jar:$(cat "$JT/classpath.txt") dev.flagwire.latency.Harness"
         --version "analytics-java=$(grep -o 'analytics-[0-9.]*\.jar' "$JT/classpath.txt" | head -1 | sed 's/analytics-//; s/\.jar//') ($(java -version 2>&1 | head -1))")
fi
if want analytics-python; then
  VENV=$ROOT/target/latency-venv
  if ! "$VENV/bin/python" -c 'import segment.analytics' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$BENCH/python/requirements.txt"
  fi
  args+=(--lib "analytics-python=$VENV/bin/python $BENCH/python/harness.py"
         --version "analytics-python=$("$VENV/bin/python" -c 'from segment.analytics.version import VERSION; print(VERSION)') (segment-analytics-python, $("$VENV/bin/python" -V))")
fi
# analytics-ruby is published on RubyGems only (not in Debian, not on PyPI), which this machine
# and CI cannot reach: it is reported, not measured.
args+=(--unavailable "analytics-ruby=not reachable: published on RubyGems only (not in Debian or on PyPI), and RubyGems is not reachable from this machine or CI")

step "latency: ${LATENCY_REPS:-3} reps x latencies ${LATENCY_LIST:-0,20,50,200} ms x [${LIBS# }], ${LATENCY_SECS:-4} s at ${LATENCY_RATE:-200000} events/s offered ($(nproc) cores; $(uptime | sed 's/.*load/load/'))"
python3 "$BENCH/run.py" --collector "$ROOT/target/release/flagwire-collector" --out "$OUT" "${args[@]}" \
  --command "scripts/bench-latency.sh   # LATENCY_SECS=${LATENCY_SECS:-4} LATENCY_RATE=${LATENCY_RATE:-200000} LATENCY_REPS=${LATENCY_REPS:-3} LATENCY_LIST=${LATENCY_LIST:-0,20,50,200}"
