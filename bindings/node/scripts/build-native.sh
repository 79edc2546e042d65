#!/usr/bin/env bash
# Builds what the package carries in prebuilds/<platform>-<arch>/: the Node-API addon
# flagwire.node (src/flagwire_node.c, compiled against the Node-API headers from npm's
# node-api-headers and the checked-in include/flagwire.h) and a copy of the core library
# (libflagwire.so, debug info stripped). Needs gcc, `npm ci` done, and the Rust release build
# (cargo build --release -p flagwire). Env FLAGWIRE_LIB: another libflagwire.so to bundle.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
lib="${FLAGWIRE_LIB:-$repo/target/release/libflagwire.so}"
headers="$here/node_modules/node-api-headers/include"
platform="$(node -p 'process.platform + "-" + process.arch')"
out="$here/prebuilds/$platform"

[[ -f "$lib" ]] || { echo "build-native.sh: no $lib; run: cargo build --release -p flagwire" >&2; exit 1; }
[[ -f "$headers/node_api.h" ]] || { echo "build-native.sh: no Node-API headers; run npm ci in $here" >&2; exit 1; }

mkdir -p "$out"
# Node-API symbols resolve against the node binary at load time; -ldl/-lpthread for dlopen and
# the log sink's mutex.
gcc -std=c11 -D_GNU_SOURCE -O2 -fPIC -shared -Wall -Wextra -Werror -Wno-unused-parameter \
  -fvisibility=hidden -I"$headers" -I"$repo/include" \
  "$here/src/flagwire_node.c" -o "$out/flagwire.node" -ldl -lpthread
objcopy --strip-debug "$lib" "$out/libflagwire.so"
echo "build-native.sh: $out/flagwire.node and libflagwire.so ($(du -h "$out/libflagwire.so" | cut -f1))"
