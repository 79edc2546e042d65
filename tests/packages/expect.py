"""Checks what the test collector received: exactly the expected "Experiment Viewed" events (one
per user id, with the expected variation) and a number of other messages, all sent by the
expected flagwire version. Waits at most 15 s for them to arrive.
Usage: expect.py COLLECTOR_URL VERSION USER=VARIATION,... OTHER_MESSAGES"""

import json
import sys
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def main(url, version, exposures, others):
    expected = dict(pair.split("=", 1) for pair in exposures.split(",") if pair)
    total = len(expected) + int(others)
    waited = get(f"{url}/_test/wait?count={total}&timeout_ms=15000")
    messages = get(f"{url}/_test/messages")["messages"]
    viewed = [m for m in messages if m.get("event") == "Experiment Viewed"]
    got = {m["userId"]: m["properties"].get("variationKey") for m in viewed}
    problems = []
    if not waited["ok"] or len(messages) != total:
        problems.append(f"{len(messages)} messages, expected {total}")
    if len(viewed) != len(got):
        problems.append("a user's exposure arrived twice")
    if got != expected:
        problems.append(f"exposures {sorted(got.items())}, expected {sorted(expected.items())}")
    versions = {m.get("context", {}).get("library", {}).get("version") for m in messages}
    if versions != {version}:
        problems.append(f"library versions {versions}, expected {version}")
    if problems:
        print("FAIL:", "; ".join(problems), file=sys.stderr)
        return 1
    sample = ", ".join(f"{u}:{v}" for u, v in sorted(got.items())[:3])
    print(f"collector: {len(viewed)} Experiment Viewed as expected ({sample}, ...) + {int(others)} other, "
          f"library flagwire {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
