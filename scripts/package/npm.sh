#!/usr/bin/env bash
# The npm tarball: the Node-API addon and the library in prebuilds/<platform>-<arch>/
# (bindings/node/scripts/build-native.sh), packed by `npm pack`.
# Usage: npm.sh DIST VERSION  (after cargo build --release -p flagwire)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dist="$1" version="$2"
cd "$repo/bindings/node"
# The Node-API headers come from npm (node-api-headers, a dev dependency); no install scripts.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
scripts/build-native.sh >/dev/null
name="$(npm pack --pack-destination "$dist" --loglevel=error)"
[[ "$name" == "flagwire-$version.tgz" ]] || { echo "npm.sh: unexpected tarball $name" >&2; exit 1; }
echo "$dist/$name"
