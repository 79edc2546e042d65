#!/usr/bin/env bash
# Ground truth against the real Optimizely Python SDK (issue 19 item 3): creates a venv with the
# pinned optimizely-sdk (requirements.txt), then runs python_sdk.py on the release library and the
# collector binary. Assumes: cargo build --release -p flagwire -p flagwire-collector
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(cd ../.. && pwd)"
LIB="$ROOT/target/release/libflagwire.so"
COLLECTOR="$ROOT/target/release/flagwire-collector"
for f in "$LIB" "$COLLECTOR"; do
  [[ -e "$f" ]] || { echo "missing $f: run cargo build --release -p flagwire -p flagwire-collector" >&2; exit 1; }
done
VENV="$ROOT/target/groundtruth-venv"
if [[ ! -x "$VENV/bin/python" ]] || ! cmp -s requirements.txt "$VENV/requirements.txt"; then
  python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
  cp requirements.txt "$VENV/requirements.txt"
fi
"$VENV/bin/python" python_sdk.py "$LIB" "$COLLECTOR" "$ROOT/tests/data/datafile-holdouts.json" "${USERS:-4000}"
