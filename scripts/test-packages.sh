#!/usr/bin/env bash
# Builds every release artifact (scripts/package.sh -> dist/) and tests each one as a consumer
# would, from the artifact only, in a temporary directory outside the repository: the C SDK with
# pkg-config, the Go module through `go get` (and vendored), the gem with `gem install --local`
# into an empty GEM_HOME, the jar through Maven coordinates, the wheel in a fresh venv, the npm
# tarball in an empty project. Each delivers exposures to the test collector
# (tests/packages/*.sh). Also: the checksums hold, every package has the same version, and a
# missing native library fails the Maven build, the gem's load and the Go build, saying how to
# get one. Run by scripts/test-all.sh; a few minutes, most of it the first Maven resolve.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x target/release/flagwire-collector ]] || cargo build --release --locked -p flagwire-collector

timings=()
timed() {
  local name="$1" start=$SECONDS
  shift
  printf '\n==> %s\n' "$name"
  "$@"
  timings+=("$name $((SECONDS - start)) s")
}
timed "package (scripts/package.sh)" scripts/package.sh
timed "SHA256SUMS" bash -c 'cd dist && sha256sum --check --strict SHA256SUMS'
for consumer in c go ruby java python node; do
  timed "consumer: $consumer" "tests/packages/$consumer.sh"
done
printf '\n==> packages: all consumers delivered (%s)\n' "$(IFS=','; echo "${timings[*]}" | sed 's/,/, /g')"
