#!/usr/bin/env bash
# Runs the Ruby listener benchmark (bench/listener_bench.rb, Ruby's benchmark stdlib) and prints
# the figures: median ns per listener call over several runs. Needs the Rust release build
# (target/release/libflagwire.so). Extra arguments go to the script, e.g. --runs 9 --calls 200000,
# or --endpoint http://127.0.0.1:PORT to send to a running collector instead of a closed port.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
exec ruby -Ilib bench/listener_bench.rb "$@"
