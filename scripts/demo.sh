#!/usr/bin/env bash
# The main job: build, start the local collector (with its live exposure page, given the demo's
# datafile), feed it a realistic decision stream, print the events that arrive and the stats.
# In a terminal the collector then stays up with the page until Ctrl-C; elsewhere (CI, pipes) it
# exits at once. Either way the exit status is the demo's: 0 when every exposure arrived exactly
# once, 1 otherwise. Needs only Rust (cargo). Args: [USERS] [DATAFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -t 1 ]; then
  export FLAGWIRE_DEMO_KEEP_UP=1
fi
exec cargo run --release --locked --example demo -- "$@"
