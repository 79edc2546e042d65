#!/usr/bin/env bash
# The jar and its pom, installed into a Maven repository of this test's own with
# `mvn install:install-file` (never ~/.m2): a project that depends only on the coordinates
# dev.flagwire:flagwire:VERSION (plus the real Optimizely SDK, com.optimizely.ab:core-api 4.2.2)
# resolves, compiles and delivers exactly the SDK's experiment decisions, with the library JNA
# extracts from the jar (-Djna.nosys=true: nothing from the system). Then the binding's Maven
# build, given no library, fails at its first phase with a message saying how to build one.
# The repository (target/packages-m2) is kept between runs: the first run resolves online, later
# runs offline (-o) when they can.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
jar="$DIST/flagwire-$VERSION.jar"
pom="$DIST/flagwire-$VERSION.pom"
m2="$REPO/target/packages-m2"
rm -rf "$m2/dev/flagwire"
maven() { mvn -B -ntp -q -Dstyle.color=never -Dmaven.repo.local="$m2" "$@"; }
# Offline when everything is already there; else once more, online.
maven_resolving() { maven -o "$@" >/dev/null 2>&1 || maven "$@"; }

listing="$(unzip -l "$jar")"
expect_match " linux-x86-64/libflagwire\.so$" "$listing" "the library under JNA's resource prefix"
echo "jar: $(grep -E 'libflagwire' <<<"$listing" | awk '{print $4, $1, "bytes"}')"
maven_resolving install:install-file -Dfile="$jar" -DpomFile="$pom"

mkdir -p "$WORK/app/src" && cd "$WORK/app"
cp "$PACKAGES_DIR/java/Consumer.java" src/
cat > pom.xml <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId>
  <artifactId>app</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>dev.flagwire</groupId><artifactId>flagwire</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>com.optimizely.ab</groupId><artifactId>core-api</artifactId><version>4.2.2</version></dependency>
    <!-- the SDK's JSON parser and logger binding, as an application has them -->
    <dependency><groupId>com.google.code.gson</groupId><artifactId>gson</artifactId><version>2.13.1</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
maven_resolving dependency:build-classpath -Dmdep.outputFile=classpath.txt
cp="$(cat classpath.txt)"
expect_match "$m2/dev/flagwire/flagwire/$VERSION/flagwire-$VERSION.jar" "$cp" "flagwire resolved by its coordinates"
javac -d classes -cp "$cp" src/Consumer.java

start_collector
expected="$(env -u LD_LIBRARY_PATH java -Djna.nosys=true -cp "classes:$cp" Consumer "$COLLECTOR_URL" "$DATAFILE" 40 2>app.err | paste -sd,)" \
  || { cat app.err >&2; exit 1; }
grep '^loaded' app.err
expect_match "^loaded .*jna.*\.tmp \(flagwire $VERSION\)" "$(cat app.err)" "the library JNA extracted from the jar"
expect_exposures "$expected"

echo "== the binding's Maven build without a library"
if out="$(cd "$REPO/bindings/java" && mvn -B -ntp -Dstyle.color=never package -Dflagwire.native.dir="$WORK/no-library" 2>&1)"; then
  echo "FAIL: mvn package succeeded without a native library" >&2; exit 1
fi
grep -m1 -o "flagwire: no native library at .*" <<<"$out"
expect_match "no native library at $WORK/no-library/libflagwire.so.*cargo build --release -p flagwire" "$out" "the failure says how to build one"
echo "Maven: OK"
