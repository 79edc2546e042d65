#!/usr/bin/env bash
# Builds the flagwire wheel into bindings/python/dist/:
#  1. copies target/release/libflagwire.so into src/flagwire/<sys.platform>-<machine>/ (debug
#     info stripped: 20 MB -> a few MB; symbols kept),
#  2. works out the platform tag from the library itself: manylinux_<X>_<Y>_<machine>, where
#     GLIBC_X.Y is the newest glibc symbol version it needs (objdump -T); it links nothing but
#     libc, libgcc_s and the loader, which manylinux allows (tests/test_wheel.py checks both with
#     auditwheel),
#  3. runs `python -m build --wheel` (setuptools from PyPI, in build's isolated environment)
#     with that --plat-name; setup.py tags the wheel py3-none-<platform>.
# Needs: the Rust release build, binutils (objdump, strip), and `build` in $PYTHON's environment.
# Env: PYTHON (default python3), FLAGWIRE_LIB_SRC (default target/release/libflagwire.so).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="${PYTHON:-python3}"
src="${FLAGWIRE_LIB_SRC:-$repo/target/release/libflagwire.so}"
if [[ ! -f "$src" ]]; then
  echo "build_wheel.sh: missing $src; build it first: cargo build --release -p flagwire" >&2
  exit 1
fi

# The directory flagwire/_native.py:platform_dir() looks in (same normalisation).
platdir="$("$py" -c 'import sys, platform
m = platform.machine().lower()
print(sys.platform + "-" + {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(m, m))')"
machine="${platdir#*-}"
dest="$here/src/flagwire/$platdir/libflagwire.so"
rm -rf "$here"/src/flagwire/*-*/
mkdir -p "$(dirname "$dest")"
cp "$src" "$dest"
strip --strip-debug "$dest"

glibc="$(objdump -T "$dest" | grep -o 'GLIBC_[0-9]*\.[0-9]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n | tail -n1)"
if [[ "$platdir" == linux-* && -n "$glibc" ]]; then
  plat="manylinux_${glibc/./_}_${machine}"
else
  plat="$("$py" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')"
fi

cd "$here"
rm -rf build dist src/*.egg-info
"$py" -m build --wheel -C--build-option=--plat-name -C--build-option="$plat" >build-wheel.log 2>&1 || {
  cat build-wheel.log >&2
  exit 1
}
rm -f build-wheel.log
rm -rf build src/*.egg-info
ls dist/*.whl
