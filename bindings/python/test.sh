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

# Debian's python3 ships venv and ensurepip separately (python3-venv).
if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
for tool in objdump strip; do
  command -v "$tool" >/dev/null || { echo "test.sh: needs $tool (Debian: binutils)" >&2; exit 1; }
done

venv="$repo/target/python-test-venv"
"$py" -m venv --clear "$venv"
# Test tools and peers, pinned: the real SDK (newest on PyPI when written), Celery's billiard
# (fork test), auditwheel (the wheel's tag), build (the wheel itself) and mypy (the type hints).
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  'pytest==9.2.0' 'optimizely-sdk==5.7.0' 'billiard==4.3.2' 'auditwheel==6.8.2' 'build==1.6.1' 'mypy==2.4.1'

"$venv/bin/python" -m mypy --strict --no-error-summary "$here/src/flagwire"

PYTHON="$venv/bin/python" "$here/build_wheel.sh" >/dev/null
wheel="$(ls "$here"/dist/flagwire-*.whl)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$wheel"

# From the tests directory, with the installed package only (no src/ on sys.path).
cd "$here/tests"
FLAGWIRE_WHEEL="$wheel" timeout 900 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
