"""Config passed through to the core, enqueue, flush, stats, close, the context manager, and the
ways a client left open is still delivered (exit hook, garbage collector)."""

import datetime
import re
import threading

import pytest

import flagwire

from conftest import DESIGN, run_script



def documented_stats():
    """The counters docs/design.md §6 lists (backticked names in that section)."""
    text = DESIGN.read_text()
    section = text[text.index("## 6. Stats"):text.index("## 7.")]
    return set(re.findall(r"`([a-z_]+)`", section)) - {"flagwire_stats", "enqueue"}  # named, not counters


def test_options_pass_through_and_the_core_names_the_bad_key(collector):
    with pytest.raises(flagwire.ConfigError, match="unknown field `batch_sise`"):
        flagwire.Client(write_key="k", endpoint=collector.url, batch_sise=10)
    with pytest.raises(flagwire.ConfigError, match="gzip") as e:
        flagwire.Client(write_key="secret-write-key-7", endpoint=collector.url, gzip="yes")
    assert "secret-write-key-7" not in str(e.value)
    assert e.value.status is flagwire.Status.INVALID_CONFIG
    with pytest.raises(flagwire.ConfigError, match="batch_size"):
        flagwire.Client(write_key="k", endpoint=collector.url, batch_size=0)
    # A value JSON has no type for goes as its str(): the core still names the key.
    with pytest.raises(flagwire.ConfigError, match="`batch_size`"):
        flagwire.Client(write_key="k", endpoint=collector.url, batch_size={1, 2})
    with pytest.raises(ValueError, match="timeout"):
        flagwire.Client(write_key="k", close_timeout=-1)


def test_options_reach_the_core(collector, make_client):
    fw = make_client(event_name="Flag Exposure", property_style="segment", user_id_field="anonymousId",
                     include_attributes=None)  # None: the default
    info = {"flag_key": "f", "rule_key": "r", "variation_key": "v", "enabled": True}
    assert fw.listener("flag", "u", {"a": 1}, info) == flagwire.Status.OK
    assert fw.flush(10)
    (m,) = collector.messages()
    assert m["event"] == "Flag Exposure" and m["anonymousId"] == "u" and "userId" not in m
    assert m["properties"] == {"experiment_name": "r", "variation_name": "v", "userAttributes": {"a": 1}}


def test_enqueue_any_segment_message(collector, make_client):
    fw = make_client()
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert fw.enqueue({"type": "track", "userId": "u", "event": "Order Completed",
                       "properties": {"revenue": 42, "at": when}}) is True
    assert fw.enqueue('{"type":"identify","userId":"u","traits":{"plan":"pro"}}') is True
    assert fw.enqueue(b'{"type":"group","userId":"u","groupId":"g"}') is True
    with pytest.raises(flagwire.InvalidInputError, match="INVALID_JSON"):
        fw.enqueue({"type": "track", "userId": "u"})  # no event
    with pytest.raises(flagwire.InvalidInputError):
        fw.enqueue("not json")
    assert fw.enqueue({"type": "track", "userId": "u", "event": "Big", "properties": {"x": "y" * 40_000}}) is False
    assert fw.flush(10)
    messages = {m["type"]: m for m in collector.messages()}
    assert set(messages) == {"track", "identify", "group"}
    assert messages["track"]["properties"] == {"revenue": 42, "at": "2026-01-02T03:04:05+00:00"}
    assert messages["track"]["messageId"] and messages["track"]["context"]["library"]["name"] == "flagwire"
    stats = fw.stats()
    # The core's counters as documented (the core may have more), plus this binding's two.
    assert documented_stats() | {"listener_errors", "datafile_errors"} <= set(stats)
    assert (stats["enqueued"], stats["delivered"], stats["dropped_invalid"], stats["dropped_too_large"]) == (3, 3, 2, 1)


def test_flush_reports_a_deadline_and_loses_nothing(collector, make_client):
    collector.script({"status": 200, "delay_ms": 1500})
    fw = make_client()
    assert fw.enqueue({"type": "track", "userId": "u", "event": "Slow"})
    assert fw.flush(0.1) is False
    assert fw.flush(20) is True
    assert collector.wait(1) == 1
    with pytest.raises(ValueError):
        fw.flush(-1)


def test_close_is_idempotent_and_everything_else_then_raises(collector, make_client):
    fw = make_client()
    fw.enqueue({"type": "track", "userId": "u", "event": "Before Close"})
    assert fw.close() is True
    assert collector.wait(1) == 1
    assert fw.closed and fw.close() is None
    for call in (fw.stats, lambda: fw.flush(1), lambda: fw.enqueue({}), lambda: fw.set_datafile("{}"),
                 lambda: fw.profile_user_id(user_id="u")):
        with pytest.raises(flagwire.ClosedError):
            call()
    assert repr(fw) == "<flagwire.Client closed>"


def test_close_from_many_threads_closes_once(make_client):
    fw = make_client()
    results = []
    threads = [threading.Thread(target=lambda: results.append(fw.close(5))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results, key=repr) == [None] * 7 + [True]


def test_close_waits_for_a_flush_running_on_another_thread(collector, make_client):
    collector.script({"status": 200, "delay_ms": 1000})
    fw = make_client()
    fw.enqueue({"type": "track", "userId": "u", "event": "E"})
    flushed = []
    t = threading.Thread(target=lambda: flushed.append(fw.flush(20)))
    t.start()
    while fw._handle._waiting == 0 and t.is_alive():
        t.join(0.01)
    assert fw.close(20) is True  # frees the client only after the flush returned
    t.join(30)
    assert flushed == [True]


def test_context_manager(collector):
    with flagwire.Client(write_key="k", endpoint=collector.url) as fw:
        fw.enqueue({"type": "track", "userId": "u", "event": "In With"})
    assert fw.closed
    assert collector.wait(1) == 1


@pytest.mark.parametrize("mode", ["atexit", "gc", "with"])
def test_a_client_left_open_is_delivered(collector, mode):
    run_script("exit_paths.py", collector.url, mode, "40")
    assert collector.wait(41, timeout_ms=300) == 40
    assert {m["userId"] for m in collector.messages()} == {f"{mode}-{i}" for i in range(40)}
