#!/usr/bin/env bash
# Benchmarks flagwire's DECISION handler against a hand-written analytics-go handler, same run,
# same local collector, and the Profile API's cached lookup (see bench_test.go), and prints the
# medians. Assumes the Rust release build exists (cargo build --release -p flagwire -p flagwire-collector).
# Then the delivery benchmark at 0, 20, 50 and 200 ms per request (BenchmarkDeliveryAtLatency).
# Env: COUNT (default 5), EVENTS per run (default 100000), BENCH (regexp, default all but the
#      latency benchmark), LAT_EVENTS per latency run (default 20000), LAT_BENCH (regexp,
#      default DeliveryAtLatency; empty skips it),
#      FLAGWIRE_BENCH_JSON=PATH: also write the summary JSON for scripts/bench_report.py there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
COUNT="${COUNT:-5}"
EVENTS="${EVENTS:-100000}"
BENCH="${BENCH:-.}"
out="$(mktemp "${TMPDIR:-/tmp}/flagwire-go-bench.XXXXXX")"
trap 'rm -f "$out"' EXIT
LAT_EVENTS="${LAT_EVENTS:-20000}"
LAT_BENCH="${LAT_BENCH-DeliveryAtLatency}"
echo "go test -run '^\$' -bench '$BENCH' -skip DeliveryAtLatency -benchtime=${EVENTS}x -benchmem -count $COUNT  ($(nproc) cores, $(go env GOVERSION))"
go test -run '^$' -bench "$BENCH" -skip DeliveryAtLatency -benchtime="${EVENTS}x" -benchmem -count "$COUNT" -timeout 30m ./flagwire | tee "$out"
if [[ -n "$LAT_BENCH" ]]; then
  echo "go test -run '^\$' -bench '$LAT_BENCH' -benchtime=${LAT_EVENTS}x -benchmem -count $COUNT"
  go test -run '^$' -bench "$LAT_BENCH" -benchtime="${LAT_EVENTS}x" -benchmem -count "$COUNT" -timeout 60m ./flagwire | tee -a "$out"
fi
args=()
if [[ -n "${FLAGWIRE_BENCH_JSON:-}" ]]; then
  args=(-json "$FLAGWIRE_BENCH_JSON"
        -version "go=$(go env GOVERSION)"
        -version "analytics-go=$(go list -m -f '{{.Version}}' github.com/segmentio/analytics-go/v3)"
        -version "optimizely go-sdk=$(go list -m -f '{{.Version}}' github.com/optimizely/go-sdk/v2)"
        -command "bindings/go/bench.sh  # COUNT=$COUNT EVENTS=$EVENTS LAT_EVENTS=$LAT_EVENTS")
fi
go run ./internal/benchsummary "${args[@]}" < "$out"
