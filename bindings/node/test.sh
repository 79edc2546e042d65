#!/usr/bin/env bash
# Runs the Node binding's tests: installs the dev dependencies from package-lock.json (npm ci:
# the real @optimizely/optimizely-sdk, node-api-headers, typescript), builds the addon and copies
# the library into prebuilds/, then runs every test/*.test.js with node's own test runner.
# Needs Node >= 18, npm, gcc and the Rust release build (target/release/libflagwire.so and
# flagwire-collector). A few minutes at most; every wait in the tests is bounded.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

for f in "$repo/target/release/libflagwire.so" "$repo/target/release/flagwire-collector"; do
  if [[ ! -e "$f" ]]; then
    echo "test.sh: missing $f; build it first: cargo build --release -p flagwire -p flagwire-collector" >&2
    exit 1
  fi
done
command -v node >/dev/null && command -v npm >/dev/null || { echo "test.sh: needs node and npm" >&2; exit 1; }

# --ignore-scripts: no dependency needs an install script, so none runs.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
scripts/build-native.sh
# The tests load the bundled library, never one from the environment.
unset FLAGWIRE_LIBRARY_PATH
timeout 600 node --test --test-timeout=120000 test/*.test.js
echo "test.sh: all Node binding tests passed"
