#!/usr/bin/env bash
# Runs the Python binding's benchmark (bench/bench.py): the FFI call cost (ctypes as flagwire
# calls it, ctypes with argtypes, cffi), the listener's caller cost and decide() throughput
# against a hand-written listener calling Segment's segment-analytics-python, and delivered
# events/s at per-request latency 0/20/50/200 ms. Creates target/python-bench-venv (the real
# optimizely-sdk, segment-analytics-python, cffi and build from PyPI), builds and installs the
# wheel. A few minutes; --quick for a smoke run. Needs the Rust release build
# (libflagwire.so, flagwire-collector).
# FLAGWIRE_BENCH_JSON=PATH also writes the summary JSON for scripts/bench_report.py there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="${PYTHON:-python3}"
venv="$repo/target/python-bench-venv"
if ! "$venv/bin/python" -c 'import optimizely, segment.analytics, cffi, build' 2>/dev/null; then
  "$py" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    'optimizely-sdk==5.7.0' 'segment-analytics-python==2.4.0' 'cffi==2.1.1' 'build==1.6.1'
fi
PYTHON="$venv/bin/python" "$here/build_wheel.sh" >/dev/null
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$here"/dist/flagwire-*.whl

args=()
if [[ -n "${FLAGWIRE_BENCH_JSON:-}" ]]; then
  json="$FLAGWIRE_BENCH_JSON"
  [[ "$json" == /* ]] || json="$PWD/$json"  # relative to the caller's directory
  args=(--json "$json")
fi
cd "$here/bench"
exec "$venv/bin/python" bench.py --collector "$repo/target/release/flagwire-collector" "${args[@]}" "$@"
