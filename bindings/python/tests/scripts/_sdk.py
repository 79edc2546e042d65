"""Shared by the scripts: an offline optimizely-sdk client (forwarding event processor, a
dispatcher that sends nothing, ODP off) and a flagwire client attached to it."""

import sys
from pathlib import Path

import flagwire
from optimizely import optimizely
from optimizely.event.event_processor import ForwardingEventProcessor
from optimizely.helpers.sdk_settings import OptimizelySdkSettings

DATAFILE = Path(__file__).resolve().parents[4] / "tests" / "data" / "minimal-datafile.json"


class NoDispatch:
    def dispatch_event(self, event):
        pass


def attached_clients(url):
    """(optimizely client, flagwire client attached to it), as an app creates them at startup."""
    dispatcher = NoDispatch()
    oc = optimizely.Optimizely(
        datafile=DATAFILE.read_text(),
        event_dispatcher=dispatcher,
        event_processor=ForwardingEventProcessor(dispatcher),
        settings=OptimizelySdkSettings(odp_disabled=True),
    )
    fw = flagwire.Client(write_key="fork-key", endpoint=url, flush_interval_ms=50)
    fw.attach(oc)
    return oc, fw


def decide(oc, prefix, count):
    for i in range(count):
        oc.create_user_context(f"{prefix}{i}", {"worker": prefix}).decide("checkout_flow")


def usage(text):
    print(text, file=sys.stderr)
    sys.exit(2)
