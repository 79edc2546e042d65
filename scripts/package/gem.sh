#!/usr/bin/env bash
# The platform gem (flagwire-VERSION-<platform>.gem), built by bindings/ruby/package.sh.
# Usage: gem.sh DIST VERSION  (after cargo build --release -p flagwire)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/platform.sh"
dist="$1" version="$2"
FLAGWIRE_GEM_PLATFORM="$FW_PLATFORM_GEM" "$repo/bindings/ruby/package.sh" "$dist" >/dev/null
gem="$dist/flagwire-$version-$FW_PLATFORM_GEM.gem"
[[ -f "$gem" ]] || { echo "gem.sh: $gem was not built" >&2; exit 1; }
echo "$gem"
