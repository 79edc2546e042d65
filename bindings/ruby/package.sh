#!/usr/bin/env bash
# Builds the platform gem, e.g. flagwire-0.2.0-x86_64-linux.gem: copies the library
# (target/release/libflagwire.so, or the path in FLAGWIRE_LIB) into
# lib/flagwire/native/<platform>/, debug info stripped, and runs `gem build` with
# FLAGWIRE_GEM_PLATFORM=<platform> (flagwire.gemspec). The platform is this Ruby's
# (Gem::Platform.local: x86_64-linux, aarch64-linux, arm64-darwin, ...) unless
# FLAGWIRE_GEM_PLATFORM says otherwise (a library built for another platform). The copy is
# removed afterwards, so the checkout keeps loading target/release. Output: the .gem in this
# directory, or in $1 when given. Run `cargo build --release -p flagwire` first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)"
platform="${FLAGWIRE_GEM_PLATFORM:-$(ruby -e 'l = Gem::Platform.local; puts [l.cpu, l.os, (l.version if l.os == "linux")].compact.join("-")')}"
case "$platform" in *darwin*) suffix=dylib ;; *) suffix=so ;; esac
lib="${FLAGWIRE_LIB:-$repo/target/release/libflagwire.$suffix}"
[[ -f "$lib" ]] || { echo "package.sh: $lib not found; run cargo build --release -p flagwire" >&2; exit 1; }

cd "$here"
native="lib/flagwire/native/$platform"
trap 'rm -rf "$here/$native"' EXIT
mkdir -p "$native"
cp "$lib" "$native/libflagwire.$suffix"
# The release profile keeps debug info; the gem does not need it.
if command -v strip >/dev/null && [[ "$suffix" == so ]]; then strip --strip-debug "$native/libflagwire.$suffix"; fi
FLAGWIRE_GEM_PLATFORM="$platform" gem build --silent flagwire.gemspec --output "$out/flagwire-$(ruby -Ilib -e 'require "flagwire/version"; print Flagwire::VERSION')-$platform.gem"
ls "$out"/flagwire-*-"$platform".gem
