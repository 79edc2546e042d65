# Sourced by scripts/package.sh and the scripts next to this file: the names each ecosystem gives
# the platform this machine builds for (one platform per run; other platforms are built by a run
# on that platform, see README "Other platforms").
#   FW_PLATFORM_C    the C SDK tarball's suffix  (x86_64-linux-gnu)
#   FW_PLATFORM_GO   the Go module's build/ dir  (linux-x86_64, as wasmtime-go names them)
#   FW_PLATFORM_GEM  the gem's platform          (x86_64-linux)
#   FW_PLATFORM_JNA  JNA's resource prefix       (linux-x86-64)
#   FW_LIB_SUFFIX    so | dylib
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)  FW_PLATFORM_C=x86_64-linux-gnu;  FW_PLATFORM_GO=linux-x86_64;  FW_PLATFORM_GEM=x86_64-linux;  FW_PLATFORM_JNA=linux-x86-64;   FW_LIB_SUFFIX=so ;;
  Linux-aarch64) FW_PLATFORM_C=aarch64-linux-gnu; FW_PLATFORM_GO=linux-aarch64; FW_PLATFORM_GEM=aarch64-linux; FW_PLATFORM_JNA=linux-aarch64;  FW_LIB_SUFFIX=so ;;
  Darwin-x86_64) FW_PLATFORM_C=x86_64-apple-darwin; FW_PLATFORM_GO=macos-x86_64; FW_PLATFORM_GEM=x86_64-darwin; FW_PLATFORM_JNA=darwin-x86-64; FW_LIB_SUFFIX=dylib ;;
  Darwin-arm64)  FW_PLATFORM_C=aarch64-apple-darwin; FW_PLATFORM_GO=macos-aarch64; FW_PLATFORM_GEM=arm64-darwin; FW_PLATFORM_JNA=darwin-aarch64; FW_LIB_SUFFIX=dylib ;;
  *) echo "package: no packaging defined for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac
export FW_PLATFORM_C FW_PLATFORM_GO FW_PLATFORM_GEM FW_PLATFORM_JNA FW_LIB_SUFFIX
