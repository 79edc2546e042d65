#!/usr/bin/env bash
# Runs the Go binding's whole test suite. Assumes the Rust release build exists:
#   cargo build --release -p flagwire -p flagwire-collector
# Go fetches the modules in go.sum itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(cd ../.. && pwd)"
for f in "$ROOT/target/release/libflagwire.a" "$ROOT/target/release/libflagwire.so" "$ROOT/target/release/flagwire-collector"; do
  [[ -e "$f" ]] || { echo "missing $f: run cargo build --release -p flagwire -p flagwire-collector" >&2; exit 1; }
done
export CGO_ENABLED=1

echo "== gofmt / go vet"
unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi
go vet ./...

echo "== go test -race (static link)"
go test -count=1 -race -timeout 6m -v ./... 2>&1 | grep -v -E '^=== (RUN|PAUSE|CONT)'

echo "== go test under GC stress: GOGC=1 GODEBUG=cgocheck=1"
GOGC=1 GODEBUG=cgocheck=1 go test -count=1 -short -timeout 6m -v ./flagwire 2>&1 | grep -v -E '^=== (RUN|PAUSE|CONT)'

echo "== -tags flagwire_dynamic (links -lflagwire from CGO_LDFLAGS=-L)"
# The library's SONAME carries the ABI version: the loader looks for libflagwire.so.2.
ln -sf libflagwire.so "$ROOT/target/release/libflagwire.so.2"
CGO_LDFLAGS="-L$ROOT/target/release" LD_LIBRARY_PATH="$ROOT/target/release${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  go test -count=1 -short -tags flagwire_dynamic -timeout 3m -run 'TestVersion|TestEnqueue|TestDecideProducesExactly|TestProfileAttributesAndUserID|TestLogLines' -v ./flagwire 2>&1 \
  | grep -v -E '^=== (RUN|PAUSE|CONT)'
echo "Go binding: all test runs passed"
