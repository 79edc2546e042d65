#!/usr/bin/env bash
# Runs the Python binding's tests: creates a venv (target/python-test-venv), installs pytest,
# the real Optimizely SDK, auditwheel and build from PyPI, builds the wheel (build_wheel.sh),
# installs it and runs pytest against the installed package and the test collector.
# Needs the Rust release build: target/release/libflagwire.so and target/release/flagwire-collector.
# Env: PYTHON (python3). Extra arguments go to pytest (e.g. -k fork -x).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="${PYTHON:-python3}"
for f in "$repo/target/release/libflagwire.so" "$repo/target/release/flagwire-collector"; do
  if [[ ! -e "$f" ]]; then
    echo "test.sh: missing $f; build it first: cargo build --release -p flagwire -p flagwire-collector" >&2
    exit 1
  fi
done

venv="$repo/target/python-test-venv"
"$py" -m venv --clear "$venv"
# Test tools and peers, pinned: the real SDK (newest on PyPI when written), Celery's billiard
# (fork test), auditwheel (the wheel's tag) and build (the wheel itself).
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  'pytest==9.2.0' 'optimizely-sdk==5.7.0' 'billiard==4.3.2' 'auditwheel==6.8.2' 'build==1.6.1'

PYTHON="$venv/bin/python" "$here/build_wheel.sh" >/dev/null
wheel="$(ls "$here"/dist/flagwire-*.whl)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$wheel"

# From the tests directory, with the installed package only (no src/ on sys.path).
cd "$here/tests"
FLAGWIRE_WHEEL="$wheel" timeout 900 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
