#!/usr/bin/env bash
# Builds every release artifact of this platform into dist/ (git-ignored), from one release build
# of the core, so a consumer needs no Rust toolchain:
#   libflagwire-VERSION-PLATFORM.tar.gz   C SDK: header, .so (SONAME libflagwire.so.2) + links,
#                                         .a, pkg-config flagwire.pc
#   go/, goproxy/                         the Go module (static library inside, build/<os>-<arch>/)
#                                         as a tree to tag and as a GOPROXY directory
#   flagwire-VERSION-PLATFORM.gem         Ruby platform gem, library inside
#   flagwire-VERSION.jar, .pom            Java (JNA), library under <os>-<arch>/ in the jar
#   flagwire-VERSION-py3-none-PLAT.whl    Python wheel
#   flagwire-VERSION.tgz                  npm package (Node-API addon + library)
#   SHA256SUMS                            for all of the above (sha256sum -c SHA256SUMS)
# Every package carries the same version (scripts/check_versions.py checks it first). Other
# platforms: run this on each (README "Other platforms"). scripts/test-packages.sh tests dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
source scripts/package/platform.sh
version="$(scripts/check_versions.py --print)"

step() { printf '\n== %s\n' "$*"; }
step "flagwire $version for $FW_PLATFORM_C: cargo build --release -p flagwire"
cargo build --release --locked -p flagwire

# Archive timestamps from the last commit, for reproducible tarballs, gems, wheels and jars.
# Exported after the build: ring's build script reruns when SOURCE_DATE_EPOCH changes.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH

dist="$repo/dist"
rm -rf "$dist"
mkdir -p "$dist"
for part in c-sdk go-module gem jar wheel npm; do
  step "$part"
  start=$SECONDS
  scripts/package/$part.sh "$dist" "$version"
  echo "($((SECONDS - start)) s)"
done

step "SHA256SUMS"
cd "$dist"
files=(*.tar.gz *.gem *.jar *.pom *.whl *.tgz "goproxy/github.com/flagwire/flagwire/bindings/go/@v/v$version.zip")
sha256sum "${files[@]}" > SHA256SUMS
cat SHA256SUMS
