#!/usr/bin/env bash
# Runs the Ruby binding's whole test suite (minitest, plain `ruby -Ilib -Itest`), one process per
# test file (fork, at_exit and constant tests stay isolated). Needs the Rust release build
# (target/release/libflagwire.so and target/release/flagwire-collector) and Ruby with the ffi and
# minitest gems, which it installs from Debian (ruby ruby-ffi ruby-minitest) when missing.
# Optional: OPTIMIZELY_SDK_LIB=<ruby-sdk>/lib also runs test_real_sdk.rb against the real
# Optimizely SDK (skipped otherwise).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

for f in "${FLAGWIRE_LIB:-$repo/target/release/libflagwire.so}" "$repo/target/release/flagwire-collector"; do
  if [[ ! -e "$f" ]]; then
    echo "test.sh: missing $f; build it first: cargo build --release -p flagwire -p flagwire-collector" >&2
    exit 1
  fi
done

cd "$here"
if ! ruby -e 'require "ffi"; require "minitest"' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ruby ruby-ffi ruby-minitest (Debian packages)" >&2
    sudo=""; [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ruby ruby-ffi ruby-minitest >/dev/null
  fi
  ruby -e 'require "ffi"; require "minitest"' || {
    echo "test.sh: needs ruby with the ffi and minitest gems (Debian: ruby ruby-ffi ruby-minitest)" >&2
    exit 1
  }
fi

failed=()
for t in test/test_*.rb; do
  [[ "$t" == test/test_helper.rb ]] && continue
  echo "== $t"
  # Each file is bounded; the tests bound their own waits too.
  if ! timeout 300 ruby -w -Ilib -Itest "$t"; then
    failed+=("$t")
  fi
done

if (( ${#failed[@]} )); then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test.sh: all Ruby binding tests passed"
