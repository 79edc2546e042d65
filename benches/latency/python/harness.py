"""analytics-python's side of the latency benchmark (benches/latency/README.md): Segment's Python
library with its defaults, given the same "Experiment Viewed" track flagwire makes.

`python harness.py URL SECS RATE`: offers RATE events/s (paced in 1 ms slices; as fast as track()
returns when that is slower) for SECS seconds, prints the offer report as one JSON line, then
flushes (delivering what is queued), prints the close report, waits for stdin to close (the
runner reads the peak RSS meanwhile) and stops the client.
"""
import json
import os
import sys
import threading
import time

from segment.analytics import Client

ATTRIBUTES = {"plan": "enterprise", "country": "DE"}


def main():
    url = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 200_000.0
    key = os.environ.get("LATENCY_WRITE_KEY", "latency-bench")
    failed = [0]
    lock = threading.Lock()

    def on_error(error, batch):
        with lock:
            failed[0] += len(batch)

    # Defaults: only the host, and on_error to count failures.
    client = Client(key, host=url, on_error=on_error)
    offered = accepted = refused = 0
    first = int(time.time() * 1000)
    start = time.monotonic()
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= secs:
            break
        due = int(elapsed * rate)
        while offered < due:
            user = f"user-{offered}"
            props = {
                "flagKey": "checkout_flow", "ruleKey": "checkout_ab", "variationKey": "treatment",
                "enabled": True, "optimizelyUserId": user, "userAttributes": ATTRIBUTES,
                "experiment_id": "20001", "experiment_name": "checkout_ab",
                "variation_id": "30002", "variation_name": "treatment",
            }
            ok, _ = client.track(user_id=user, event="Experiment Viewed", properties=props)
            if ok:
                accepted += 1
            else:
                refused += 1
            offered += 1
            if offered % 256 == 0 and time.monotonic() - start >= secs:
                break  # a slow call must not overrun the window
        time.sleep(0.001)
    report = {"phase": "offered", "first_offer_ms": first, "offer_end_ms": int(time.time() * 1000),
              "offered": offered, "accepted": accepted, "refused": refused}
    print(json.dumps(report), flush=True)
    client.flush()  # every queued message uploaded (or failed)
    print(json.dumps({"phase": "closed", "closed_ms": int(time.time() * 1000), "failed": failed[0]}), flush=True)
    # The runner reads this process's peak RSS and its threads' scheduling figures now (so the
    # consumer thread is still there), then closes our stdin.
    sys.stdin.read()
    client.join()


if __name__ == "__main__":
    main()
