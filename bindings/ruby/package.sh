#!/usr/bin/env bash
# Builds a gem that carries the native library: copies target/release/libflagwire.so (or the path
# in FLAGWIRE_LIB) into lib/flagwire/native/ and runs `gem build`. The copy is removed afterwards
# so development keeps loading target/release. Run `cargo build --release -p flagwire` first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
lib="${FLAGWIRE_LIB:-$repo/target/release/libflagwire.so}"
[[ -f "$lib" ]] || { echo "package.sh: $lib not found; run cargo build --release -p flagwire" >&2; exit 1; }
cd "$here"
mkdir -p lib/flagwire/native
cp "$lib" lib/flagwire/native/libflagwire.so
# The release profile keeps debug info; the gem does not need it.
if command -v strip >/dev/null; then strip --strip-debug lib/flagwire/native/libflagwire.so; fi
trap 'rm -f "$here/lib/flagwire/native/libflagwire.so"' EXIT
gem build flagwire.gemspec
