"""A real optimizely-sdk client that decides offline from a datafile: a forwarding event
processor (impressions reach `dispatcher` synchronously, no batching thread), a dispatcher that
sends nothing, ODP off. Used by the tests and by the scripts they run."""

from optimizely import optimizely
from optimizely.event.event_processor import ForwardingEventProcessor
from optimizely.helpers.sdk_settings import OptimizelySdkSettings


def offline_optimizely(datafile: str, dispatcher, **kwargs):
    return optimizely.Optimizely(
        datafile=datafile,
        event_dispatcher=dispatcher,
        event_processor=ForwardingEventProcessor(dispatcher),
        settings=OptimizelySdkSettings(odp_disabled=True),
        **kwargs,
    )
