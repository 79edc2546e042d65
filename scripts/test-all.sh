#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian machine: installs what is missing (apt packages,
# then Cargo/Go/Maven fetch their own dependencies), builds the Rust core, checks the generated
# header is the checked-in one, then runs the Rust, C (under valgrind), Python-SDK ground truth, Go,
# Java and Ruby suites and the collector's live exposure page in headless Chromium, then builds
# every release artifact (dist/) and tests each one as a consumer would (scripts/test-packages.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n==> %s\n' "$*"; }
passed=0   # suites that finished green (set -e stops at the first failure)

need_apt=()
command -v ruby >/dev/null 2>&1 || need_apt+=(ruby)
ruby -e 'require "ffi"' >/dev/null 2>&1 || need_apt+=(ruby-ffi)
ruby -e 'require "minitest"' >/dev/null 2>&1 || need_apt+=(ruby-minitest)
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)   # the C SDK's consumer test
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)   # the live page test
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

step "Rust release build (library, collector); the checked-in header is current"
cargo build --release --locked -p flagwire -p flagwire-collector
# The library's SONAME carries the ABI version: programs linked with -lflagwire load libflagwire.so.2.
ln -sf libflagwire.so target/release/libflagwire.so.2
scripts/gen-header.sh --check
scripts/check_versions.py   # one version across the crate, Go module, gem, jar, wheel, npm package

step "Rust tests (unit + integration over HTTP to the test collector)"
cargo test --locked --workspace --features flagwire/testing
passed=$((passed + 1))

step "Collector's live exposure page in headless Chromium"
cargo test --locked -p flagwire-collector --test live_page -- --ignored
passed=$((passed + 1))

step "C consumer compiled against include/flagwire.h, run under valgrind"
cargo build --locked -p flagwire --features testing
mkdir -p target/c
# The library's SONAME carries the ABI version: the loader looks for libflagwire.so.2.
ln -sf libflagwire.so target/debug/libflagwire.so.2
gcc -Wall -Wextra -Werror -std=c11 -DFLAGWIRE_TEST_PANIC -Iinclude tests/c/flagwire_test.c \
  -Ltarget/debug -lflagwire -Wl,-rpath,"$ROOT/target/debug" -o target/c/flagwire_test
COLLECTOR_OUT=$(mktemp)
target/release/flagwire-collector --port 0 --quiet --write-key c-test-key >"$COLLECTOR_OUT" &
COLLECTOR_PID=$!
trap 'kill $COLLECTOR_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$COLLECTOR_OUT" ] && break; sleep 0.05; done
URL=$(head -n1 "$COLLECTOR_OUT")
# RUST_BACKTRACE=0: the forced panic's backtrace symbolization would only add reachable noise.
RUST_BACKTRACE=0 valgrind --quiet --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite \
  target/c/flagwire_test "$URL"
kill $COLLECTOR_PID 2>/dev/null || true
trap - EXIT
passed=$((passed + 1))

step "Ground truth: the real Optimizely Python SDK's own impressions vs flagwire's events"
tests/groundtruth/run.sh
passed=$((passed + 1))

for lang in go java ruby node python; do
  if [ -x "bindings/$lang/test.sh" ]; then
    step "$lang binding"
    "bindings/$lang/test.sh"
    passed=$((passed + 1))
  fi
done

step "Release artifacts (dist/) installed and used as a consumer would, for every language"
scripts/test-packages.sh
passed=$((passed + 1))

step "all suites passed"
echo "suites: $passed passed, 0 failed"
