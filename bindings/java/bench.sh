#!/usr/bin/env bash
# Benchmarks of the flagwire Java binding (JMH) against analytics-java, one collector for the run.
# Assumes the Rust release build exists (target/release/libflagwire.so, flagwire-collector).
# Extra arguments go to JMH (e.g. `bench.sh -f 0 -wi 1 -i 1` for a smoke run).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
REL="${FLAGWIRE_NATIVE_DIR:-$ROOT/target/release}"
E2E_EVENTS="${FLAGWIRE_E2E_EVENTS:-100000}"
E2E_ROUNDS="${FLAGWIRE_E2E_ROUNDS:-3}"
E2E_LATENCIES="${FLAGWIRE_E2E_LATENCIES:-0,20,50,200}"   # collector per-request latency, ms

for f in "$REL/libflagwire.so" "$REL/flagwire-collector"; do
  [[ -e "$f" ]] || { echo "bench.sh: $f is missing; run: cargo build --release -p flagwire -p flagwire-collector" >&2; exit 1; }
done

echo "== building the benchmarks (bindings/java/bench) =="
mvn -B -ntp -Dstyle.color=never -q -f "$HERE/bench/pom.xml" package

WORK="$(mktemp -d /tmp/flagwire-java-bench.XXXXXX)"
COLLECTOR_PID=""
cleanup() {
  if [[ -n "$COLLECTOR_PID" ]]; then kill "$COLLECTOR_PID" 2>/dev/null || true; wait "$COLLECTOR_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$REL/flagwire-collector" --port 0 --quiet >"$WORK/collector.out" 2>"$WORK/collector.err" &
COLLECTOR_PID=$!
URL=""
for _ in $(seq 1 100); do
  URL="$(head -n1 "$WORK/collector.out" 2>/dev/null || true)"
  [[ "$URL" == http://127.0.0.1:* ]] && break
  sleep 0.1
done
[[ "$URL" == http://127.0.0.1:* ]] || { echo "bench.sh: the collector did not start" >&2; cat "$WORK/collector.err" >&2; exit 1; }
echo "collector: $URL"

export FLAGWIRE_BENCH_ENDPOINT="$URL"
export FLAGWIRE_BENCH_DATAFILE="$ROOT/tests/data/minimal-datafile.json"
LIB="-Dflagwire.library.path=$REL/libflagwire.so"
JAR="$HERE/bench/target/benchmarks.jar"

echo "== JMH: HandlerBench (caller cost per notification), DecideBench (4-thread decide), ProfileBench (cached Profile API lookup) =="
java "$LIB" -jar "$JAR" -jvmArgsPrepend "$LIB" -rf json -rff "$WORK/jmh.json" "$@" 'dev.flagwire.bench.(HandlerBench|DecideBench|ProfileBench)'

echo "== end to end: $E2E_ROUNDS rounds per library at each per-request latency ($E2E_LATENCIES ms); $E2E_EVENTS events at 0 ms, fewer above =="
java "$LIB" -Xms2g -Xmx4g -cp "$JAR" dev.flagwire.bench.EndToEnd "$E2E_EVENTS" "$WORK/e2e.txt" "$E2E_ROUNDS" "$E2E_LATENCIES"

java -cp "$JAR" dev.flagwire.bench.Summary "$WORK/jmh.json" "$WORK/e2e.txt"

# Optional: DecideBench's measurement interleaved slice by slice, with CPU per decide by thread
# (robust to load that drifts over minutes on a shared machine). FLAGWIRE_BENCH_INTERLEAVED=rounds.
if [[ -n "${FLAGWIRE_BENCH_INTERLEAVED:-}" ]]; then
  echo "== interleaved decide(): ${FLAGWIRE_BENCH_INTERLEAVED} rounds of 500 ms slices per listener =="
  java "$LIB" -Xms2g -Xmx4g -cp "$JAR" dev.flagwire.bench.InterleavedDecide "$FLAGWIRE_BENCH_INTERLEAVED" 500
fi
