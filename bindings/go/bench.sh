#!/usr/bin/env bash
# Benchmarks flagwire's DECISION handler against a hand-written analytics-go handler, same run,
# same local collector (see bench_test.go), and prints the medians. Assumes the Rust release
# build exists (cargo build --release -p flagwire -p flagwire-collector).
# Env: COUNT (default 5), EVENTS per run (default 100000), BENCH (regexp, default all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
COUNT="${COUNT:-5}"
EVENTS="${EVENTS:-100000}"
BENCH="${BENCH:-.}"
out="$(mktemp "${TMPDIR:-/tmp}/flagwire-go-bench.XXXXXX")"
trap 'rm -f "$out"' EXIT
echo "go test -run '^\$' -bench '$BENCH' -benchtime=${EVENTS}x -benchmem -count $COUNT  ($(nproc) cores, $(go version | cut -d' ' -f3))"
go test -run '^$' -bench "$BENCH" -benchtime="${EVENTS}x" -benchmem -count "$COUNT" -timeout 30m . | tee "$out"
go run ./internal/benchsummary < "$out"
