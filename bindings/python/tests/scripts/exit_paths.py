"""Clients never closed by the app: delivered by the exit hook, the garbage collector, or the
context manager.

    exit_paths.py URL MODE COUNT   MODE: atexit | gc | with
"""

import gc
import os
import sys

import flagwire

if len(sys.argv) != 4:
    sys.exit(__doc__)
url, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def send(client, tag):
    for i in range(count):
        assert client.enqueue({"type": "track", "userId": f"{tag}-{i}", "event": "Exit Path"})


if mode == "atexit":
    client = flagwire.Client(write_key="k", endpoint=url, flush_interval_ms=60_000)
    send(client, "atexit")  # a minute's interval: only the exit hook can send these in time
elif mode == "gc":
    client = flagwire.Client(write_key="k", endpoint=url, flush_interval_ms=60_000)
    send(client, "gc")
    del client
    gc.collect()  # the finalizer closes (and flushes) the client
    sys.stdout.flush()
    os._exit(0)  # skips atexit: only the garbage collector's close can have sent them
elif mode == "with":
    with flagwire.Client(write_key="k", endpoint=url, flush_interval_ms=60_000) as client:
        send(client, "with")
    assert client.closed
    os._exit(0)  # skips atexit: only the context manager's close can have sent them
else:
    sys.exit(f"unknown mode {mode}")
