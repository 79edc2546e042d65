#!/usr/bin/env bash
# The wheel (py3-none-<platform>), built by bindings/python/build_wheel.sh with `build` from a
# venv kept in target/package-venv (pinned as in bindings/python/test.sh).
# Usage: wheel.sh DIST VERSION  (after cargo build --release -p flagwire)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dist="$1" version="$2"
venv="$repo/target/package-venv"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check 'build==1.6.1'
# build_wheel.sh prints the wheel's path relative to bindings/python.
wheel="$repo/bindings/python/$(PYTHON="$venv/bin/python" "$repo/bindings/python/build_wheel.sh" | tail -n1)"
[[ "$(basename "$wheel")" == flagwire-"$version"-py3-none-*.whl ]] || { echo "wheel.sh: unexpected wheel $wheel" >&2; exit 1; }
cp "$wheel" "$dist/"
echo "$dist/$(basename "$wheel")"
