"""attach() on the real SDK's notification center: the datafile pushed now and on every config
update, double attach refused (the integration guides' "duplicate events" pitfall), detach."""

import http.server
import threading
import time

import pytest

import flagwire
from optimizely.config_manager import PollingConfigManager
from optimizely.helpers.enums import NotificationTypes

from offline_sdk import offline_optimizely

from conftest import REPEATED_RULE_KEYS_DATAFILE, RecordingDispatcher, expected_from_impressions, exposures, key_of


def decide_all(oc, prefix, users):
    for i in range(users):
        oc.create_user_context(f"{prefix}{i}").decide_all()


def test_attach_pushes_the_datafile_so_rules_are_classified_per_flag(collector, make_client, make_optimizely):
    # Without the datafile, flag_b's rollout rule "shared_rule" (dispatched: sendFlagDecisions is
    # on) would look like an experiment; with it, only the SDK's experiment decisions are exposures.
    oc, dispatcher = make_optimizely(REPEATED_RULE_KEYS_DATAFILE)
    fw = make_client()
    attachment = fw.attach(oc)
    assert fw.attached and attachment.client is fw and attachment.notification_center is oc.notification_center
    decide_all(oc, "a", 300)
    expected = expected_from_impressions(dispatcher.impressions())
    assert fw.flush(10)
    assert collector.wait(len(expected) + 1, timeout_ms=300) == len(expected)
    assert sorted(key_of(m) for m in exposures(collector.messages())) == expected


def test_a_second_attach_is_refused(make_client, make_optimizely):
    oc, _ = make_optimizely()
    fw = make_client()
    fw.attach(oc)
    with pytest.raises(flagwire.AlreadyAttachedError, match="already attached"):
        fw.attach(oc)
    other = make_client()
    with pytest.raises(flagwire.AlreadyAttachedError, match="another flagwire Client"):
        other.attach(oc)
    listeners = oc.notification_center.notification_listeners[NotificationTypes.DECISION]
    assert len(listeners) == 1


def test_attach_after_registering_the_listener_by_hand_is_refused(make_client, make_optimizely):
    oc, _ = make_optimizely()
    fw = make_client()
    oc.notification_center.add_notification_listener(NotificationTypes.DECISION, fw.listener)
    with pytest.raises(flagwire.AlreadyAttachedError, match="refused the DECISION listener"):
        fw.attach(oc)
    assert not fw.attached
    assert oc.notification_center.notification_listeners[NotificationTypes.OPTIMIZELY_CONFIG_UPDATE] == []


def test_detach_stops_the_events_and_attach_works_again(collector, make_client, make_optimizely):
    oc, dispatcher = make_optimizely()
    fw = make_client()
    attachment = fw.attach(oc)
    assert attachment.detach() is True
    assert fw.detach() is False
    decide_all(oc, "detached", 100)
    assert fw.flush(5)
    assert collector.wait(1, timeout_ms=200) == 0
    assert oc.notification_center.notification_listeners[NotificationTypes.DECISION] == []

    other = make_client()
    other.attach(oc)  # the guard is released too
    other.detach()
    fw.attach(oc)
    decide_all(oc, "again", 100)
    expected = [e for e in expected_from_impressions(dispatcher.impressions()) if e[0].startswith("again")]
    assert fw.flush(10)
    assert collector.wait(len(expected) + 1, timeout_ms=300) == len(expected)


def test_close_detaches_and_a_closed_client_cannot_attach(make_client, make_optimizely):
    oc, _ = make_optimizely()
    fw = make_client()
    fw.attach(oc)
    assert fw.close(5) is True
    assert oc.notification_center.notification_listeners[NotificationTypes.DECISION] == []
    with pytest.raises(flagwire.ClosedError):
        fw.attach(oc)
    make_client().attach(oc)  # a closed client no longer holds the guard


def test_attach_needs_an_optimizely_client(make_client):
    with pytest.raises(TypeError, match="notification_center"):
        make_client().attach(object())


class DatafileServer:
    """Serves a datafile on 127.0.0.1 to a PollingConfigManager; 404 until `ready` is set."""

    def __init__(self, datafile: bytes) -> None:
        self.ready = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if not server.ready.is_set():
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(datafile)))
                self.end_headers()
                self.wfile.write(datafile)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/datafile.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_datafile_that_arrives_after_attach_is_pushed_by_the_config_update(collector, make_client):
    server = DatafileServer(REPEATED_RULE_KEYS_DATAFILE.read_bytes())
    dispatcher = RecordingDispatcher()
    manager = PollingConfigManager(url=server.url, update_interval=0.2, blocking_timeout=30)
    oc = offline_optimizely(None, dispatcher, config_manager=manager)
    try:
        fw = make_client()
        started = time.monotonic()
        fw.attach(oc)  # nothing to push yet, and it must not wait the SDK's blocking_timeout
        assert time.monotonic() - started < 10
        server.ready.set()
        # get_config() returns once the SDK's config is ready, i.e. after OPTIMIZELY_CONFIG_UPDATE
        # was sent (and flagwire's listener pushed the datafile); bounded by blocking_timeout.
        assert manager.get_config() is not None, "the SDK never got its datafile"
        decide_all(oc, "polled", 300)
        expected = expected_from_impressions(dispatcher.impressions())
        assert fw.flush(10)
        # flag_b's rollout decisions (dispatched) are skipped: the core has the datafile.
        assert collector.wait(len(expected) + 1, timeout_ms=300) == len(expected)
        assert sorted(key_of(m) for m in exposures(collector.messages())) == expected
        assert fw.stats()["datafile_errors"] == 0
    finally:
        oc.close()
        server.close()
