#!/usr/bin/env bash
# Runs the Java binding's whole test suite (JUnit 5 through Maven Surefire) against the Rust
# release build, then checks that the packaged jar loads its bundled libflagwire.so and that the
# benchmarks still compile. Assumes: cargo build --release -p flagwire -p flagwire-collector.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
REL="${FLAGWIRE_NATIVE_DIR:-$ROOT/target/release}"

for f in "$REL/libflagwire.so" "$REL/flagwire-collector"; do
  [[ -e "$f" ]] || { echo "test.sh: $f is missing; run: cargo build --release -p flagwire -p flagwire-collector" >&2; exit 1; }
done

cd "$HERE"
# Tests (surefire passes -Dflagwire.library.path, the collector and tests/data), then the jar.
mvn -B -ntp -Dstyle.color=never -Dflagwire.native.dir="$REL" package

# The jar alone: JNA must find linux-x86-64/libflagwire.so inside it (no path given).
JAR="$(ls target/flagwire-*.jar | head -n1)"
mvn -B -ntp -Dstyle.color=never -q dependency:build-classpath -Dmdep.includeArtifactIds=jna -Dmdep.outputFile=target/jna.classpath >/dev/null
OUT="$(env -u LD_LIBRARY_PATH java -Djna.nosys=true -cp "$JAR:$(cat target/jna.classpath)" dev.flagwire.Flagwire)"
echo "$OUT"
[[ "$OUT" == *"abi 2"* ]] || { echo "test.sh: the jar did not load its bundled library" >&2; exit 1; }

# The benchmarks compile (they are run by bench.sh, not here).
mvn -B -ntp -Dstyle.color=never -q -f "$HERE/bench/pom.xml" -DskipTests package
echo "java binding: tests passed, jar loads its bundled library, benchmarks build"
