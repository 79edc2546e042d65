#!/usr/bin/env bash
# Rewrites the build line of PACKAGE_DIR/no_library.go from the libraries PACKAGE_DIR/build/
# holds: the file (whose constant does not compile) is then built on every platform without a
# library and on none with one. Usage: go-platform-guard.sh PACKAGE_DIR
set -euo pipefail
pkg="$1"
declare -A goplat=([linux-x86_64]="linux && amd64" [linux-aarch64]="linux && arm64"
                   [macos-x86_64]="darwin && amd64" [macos-aarch64]="darwin && arm64")
line="//go:build !flagwire_dynamic"
for dir in "$pkg"/build/*/; do
  name="$(basename "$dir")"
  [[ -e "$dir/libflagwire.a" ]] || continue
  [[ -n "${goplat[$name]:-}" ]] || { echo "go-platform-guard.sh: unknown platform directory $name" >&2; exit 1; }
  line+=" && !(${goplat[$name]})"
done
[[ "$(head -n1 "$pkg/no_library.go")" == //go:build* ]] || { echo "go-platform-guard.sh: $pkg/no_library.go has no build line" >&2; exit 1; }
{ echo "$line"; tail -n +2 "$pkg/no_library.go"; } > "$pkg/no_library.go.new"
mv "$pkg/no_library.go.new" "$pkg/no_library.go"
head -n1 "$pkg/no_library.go"
