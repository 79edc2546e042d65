# Sourced by the consumer tests in this directory. Each test installs one artifact from dist/ into
# a temporary directory outside the repository, as a user would, and has it deliver exposures to
# the project's test collector (target/release/flagwire-collector, 127.0.0.1 only).
set -euo pipefail
PACKAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$PACKAGES_DIR/../.." && pwd)"
DIST="${DIST:-$REPO/dist}"
VERSION="$("$REPO/scripts/check_versions.py" --print)"
DATAFILE="$REPO/tests/data/minimal-datafile.json"   # test data, not part of any artifact

# A fresh temporary directory, removed at exit along with the collector.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/flagwire-consumer.XXXXXX")"
COLLECTOR_PID=""
cleanup() {
  [[ -n "$COLLECTOR_PID" ]] && kill "$COLLECTOR_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts the collector; sets COLLECTOR_URL (the first line it prints).
start_collector() {
  local out="$WORK/collector.out"
  "$REPO/target/release/flagwire-collector" --port 0 --quiet >"$out" &
  COLLECTOR_PID=$!
  for _ in $(seq 1 100); do [[ -s "$out" ]] && break; sleep 0.05; done
  COLLECTOR_URL="$(head -n1 "$out")"
  [[ "$COLLECTOR_URL" == http://127.0.0.1:* ]] || { echo "collector did not start" >&2; exit 1; }
}

# Empties the collector (between two runs of one test).
reset_collector() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_test/reset", method="POST"), timeout=10)' "$COLLECTOR_URL"
}

# expect_exposures USER=VARIATION,... [OTHER_MESSAGES]: waits (bounded) for the collector to hold
# exactly these "Experiment Viewed" events (one per user, with that variation) plus
# OTHER_MESSAGES other messages, sent by library version $VERSION; prints a summary.
expect_exposures() {
  python3 "$PACKAGES_DIR/expect.py" "$COLLECTOR_URL" "$VERSION" "$1" "${2:-0}"
}

# Fails unless text ($2) contains the pattern ($1, grep -E), naming the check ($3).
expect_match() {
  if ! grep -qE -- "$1" <<<"$2"; then
    echo "FAIL: $3: no match for /$1/ in:" >&2
    echo "$2" >&2
    exit 1
  fi
}
