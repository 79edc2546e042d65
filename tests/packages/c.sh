#!/usr/bin/env bash
# The C SDK tarball, unpacked in a temporary directory: a program compiled with
# `pkg-config --cflags --libs flagwire` (nothing from include/ or target/) loads the library by
# its SONAME and delivers; the same program linked with the static archive needs no .so at all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tarball="$(ls "$DIST"/libflagwire-"$VERSION"-*.tar.gz)"
tar -xzf "$tarball" -C "$WORK"
sdk="$(ls -d "$WORK"/libflagwire-"$VERSION"-*/)"
export PKG_CONFIG_PATH="$sdk/lib/pkgconfig"
echo "pkg-config: $(pkg-config --modversion flagwire): $(pkg-config --cflags --libs flagwire)"
[[ "$(pkg-config --modversion flagwire)" == "$VERSION" ]]
cp "$PACKAGES_DIR/consumer.c" "$WORK/"
cd "$WORK"

# Shared: the loader finds libflagwire.so.2 (the SONAME) through the rpath.
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror consumer.c $(pkg-config --cflags --libs flagwire) \
  -Wl,-rpath,"$(pkg-config --variable=libdir flagwire)" -o consumer-shared
needed="$(readelf -d consumer-shared | grep NEEDED | grep -o 'libflagwire[^]]*')"
loaded="$(ldd consumer-shared | grep libflagwire)"
echo "consumer-shared: NEEDED $needed; ldd: $loaded"
[[ "$needed" == libflagwire.so.2 ]]
expect_match "$sdk" "$loaded" "the library comes from the unpacked SDK"
start_collector
expected="$(./consumer-shared "$COLLECTOR_URL" "$DATAFILE" 20 | paste -sd,)"
expect_exposures "$expected"

# Static: the archive plus the private libraries pkg-config lists.
reset_collector
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror consumer.c $(pkg-config --cflags flagwire) \
  "$(pkg-config --variable=libdir flagwire)/libflagwire.a" $(pkg-config --static --libs-only-l flagwire | sed 's/-lflagwire//') \
  -o consumer-static
if ldd consumer-static | grep -q libflagwire; then echo "FAIL: consumer-static loads a libflagwire" >&2; exit 1; fi
expected="$(./consumer-static "$COLLECTOR_URL" "$DATAFILE" 20 | paste -sd,)"
expect_exposures "$expected"
echo "C SDK: OK"
