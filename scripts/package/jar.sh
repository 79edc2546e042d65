#!/usr/bin/env bash
# The jar (dev.flagwire:flagwire:VERSION) with the library, debug info stripped, under JNA's
# resource prefix for this platform (linux-x86-64/libflagwire.so), and its pom, for
# `mvn install:install-file` / `mvn deploy:deploy-file`. The Maven build itself refuses to
# package without a library (bindings/java/pom.xml, enforcer). Tests are the binding's test.sh's.
# Usage: jar.sh DIST VERSION  (after cargo build --release -p flagwire)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/platform.sh"
dist="$1" version="$2"
lib="libflagwire.$FW_LIB_SUFFIX"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$repo/target/release/$lib" "$stage/"
strip --strip-debug "$stage/$lib"

cd "$repo/bindings/java"
# Reproducible jar entries: Maven takes the timestamp from project.build.outputTimestamp.
mvn -B -ntp -q -Dstyle.color=never package -Dmaven.test.skip=true \
  -Dflagwire.native.dir="$stage" -Dflagwire.native.file="$lib" -Dflagwire.jna.prefix="$FW_PLATFORM_JNA" \
  ${SOURCE_DATE_EPOCH:+-Dproject.build.outputTimestamp="$SOURCE_DATE_EPOCH"}
jar="target/flagwire-$version.jar"
[[ -f "$jar" ]] || { echo "jar.sh: $jar was not built (is pom.xml's version $version?)" >&2; exit 1; }
unzip -l "$jar" | grep -q " $FW_PLATFORM_JNA/$lib\$" || { echo "jar.sh: $jar has no $FW_PLATFORM_JNA/$lib" >&2; exit 1; }
cp "$jar" "$dist/"
cp pom.xml "$dist/flagwire-$version.pom"
echo "$dist/flagwire-$version.jar"
