#!/usr/bin/env bash
# The main job: build, start the local collector, feed it a realistic decision stream, print the
# events that arrive and the stats. Needs only Rust (cargo). Args: [USERS] [DATAFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --locked --example demo -- "$@"
