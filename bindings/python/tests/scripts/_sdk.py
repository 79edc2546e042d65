"""Shared by the scripts: an offline optimizely-sdk client (forwarding event processor, a
dispatcher that sends nothing, ODP off) and a flagwire client attached to it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for offline_sdk

import flagwire  # noqa: E402
from offline_sdk import offline_optimizely  # noqa: E402

DATAFILE = Path(__file__).resolve().parents[4] / "tests" / "data" / "minimal-datafile.json"


class NoDispatch:
    def dispatch_event(self, event):
        pass


def attached_clients(url):
    """(optimizely client, flagwire client attached to it), as an app creates them at startup."""
    oc = offline_optimizely(DATAFILE.read_text(), NoDispatch())
    fw = flagwire.Client(write_key="fork-key", endpoint=url, flush_interval_ms=50)
    fw.attach(oc)
    return oc, fw


def decide(oc, prefix, count):
    for i in range(count):
        oc.create_user_context(f"{prefix}{i}", {"worker": prefix}).decide("checkout_flow")


def usage(text):
    print(text, file=sys.stderr)
    sys.exit(2)
