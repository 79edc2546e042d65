#!/usr/bin/env bash
# Regenerates include/flagwire.h from src/ffi with the pinned cbindgen; `--check` fails when the
# checked-in header is stale (CI runs that).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --locked -p flagwire-header -- "$@"
