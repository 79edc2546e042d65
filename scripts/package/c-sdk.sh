#!/usr/bin/env bash
# The C SDK: DIST/libflagwire-VERSION-PLATFORM.tar.gz holding
#   include/flagwire.h
#   lib/libflagwire.so.VERSION            the library (SONAME libflagwire.so.2: the ABI version)
#   lib/libflagwire.so.2 -> libflagwire.so.VERSION   what programs load (the SONAME)
#   lib/libflagwire.so -> libflagwire.so.2           what -lflagwire links
#   lib/libflagwire.a                     for static linking
#   lib/pkgconfig/flagwire.pc             relocatable: prefix is found from the .pc's own place
# (on macOS the same with .dylib names). Debug info is stripped; symbols are kept.
# Usage: c-sdk.sh DIST VERSION  (after cargo build --release -p flagwire)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/platform.sh"
dist="$1" version="$2"
rel="$repo/target/release"
abi="$(sed -n 's/^#define FLAGWIRE_ABI_VERSION \([0-9]*\).*/\1/p' "$repo/include/flagwire.h")"
[[ -n "$abi" ]] || { echo "c-sdk.sh: no FLAGWIRE_ABI_VERSION in include/flagwire.h" >&2; exit 1; }

name="libflagwire-$version-$FW_PLATFORM_C"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/include" "$root/lib/pkgconfig"
cp "$repo/include/flagwire.h" "$root/include/"
if [[ "$FW_LIB_SUFFIX" == so ]]; then
  real="libflagwire.so.$version"
  cp "$rel/libflagwire.so" "$root/lib/$real"
  soname="$(objdump -p "$root/lib/$real" | awk '$1 == "SONAME" {print $2}')"
  [[ "$soname" == "libflagwire.so.$abi" ]] || { echo "c-sdk.sh: SONAME is '$soname', expected libflagwire.so.$abi" >&2; exit 1; }
  ln -s "$real" "$root/lib/$soname"
  ln -s "$soname" "$root/lib/libflagwire.so"
  private="-lgcc_s -lutil -lrt -lpthread -lm -ldl"
else
  real="libflagwire.$abi.dylib"
  cp "$rel/libflagwire.dylib" "$root/lib/$real"
  ln -s "$real" "$root/lib/libflagwire.dylib"
  private="-lpthread -lm -ldl"
fi
cp "$rel/libflagwire.a" "$root/lib/"
strip --strip-debug "$root/lib/$real" "$root/lib/libflagwire.a"

cat > "$root/lib/pkgconfig/flagwire.pc" <<PC
# flagwire $version, C ABI $abi. Relocatable: the prefix is two levels above this file.
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: flagwire
Description: Optimizely Feature Experimentation decisions to Segment "Experiment Viewed" events (C ABI $abi)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lflagwire
Libs.private: $private
PC

# Reproducible: fixed owner, order and times (SOURCE_DATE_EPOCH, else the last commit's time).
mtime="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -C "$stage" -cf - "$name" | gzip -n9 > "$dist/$name.tar.gz"
echo "$dist/$name.tar.gz"
