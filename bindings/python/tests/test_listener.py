"""The listener called as optimizely-sdk calls it, (type, user_id, attributes, decision_info):
what reaches the collector, what it returns, and that it never raises."""

import threading
import time

import pytest

from flagwire import Status

from conftest import DATAFILE, exposures


def flag_info(**overrides):
    info = {
        "flag_key": "checkout_flow", "enabled": True, "variables": {"button_color": "green"},
        "variation_key": "treatment", "rule_key": "checkout_ab", "reasons": [],
        "decision_event_dispatched": True, "experiment_id": "2001", "variation_id": "5002",
    }
    info.update(overrides)
    return info


def only_message(collector, client):
    assert client.flush(10)
    assert collector.wait(2, timeout_ms=200) == 1
    return collector.messages()[0]


def test_a_flag_decision_becomes_one_experiment_viewed(collector, make_client):
    fw = make_client()
    assert fw.listener("flag", "user-1", {"plan": "pro", "seats": 3}, flag_info()) is Status.OK
    m = only_message(collector, fw)
    assert m["event"] == "Experiment Viewed" and m["userId"] == "user-1"
    assert m["properties"] == {
        "flagKey": "checkout_flow", "ruleKey": "checkout_ab", "variationKey": "treatment", "enabled": True,
        "optimizelyUserId": "user-1", "userAttributes": {"plan": "pro", "seats": 3},
        "experiment_id": "2001", "experiment_name": "checkout_ab",
        "variation_id": "5002", "variation_name": "treatment",
    }


def test_ids_without_a_datafile_come_from_the_notification(collector, make_client):
    fw = make_client()  # never attached: no datafile
    assert fw.on_decision("flag", "u", {}, flag_info(experiment_id="777", variation_id="888")) is Status.OK
    p = only_message(collector, fw)["properties"]
    assert (p["experiment_id"], p["variation_id"]) == ("777", "888")


def test_nul_bytes_in_every_string_are_sent(collector, make_client):
    fw = make_client()
    info = flag_info(flag_key="f\x00lag", rule_key="r\x00ule", variation_key="v\x00ar",
                     experiment_id="1\x002", variation_id="3\x004")
    assert fw.on_decision("flag", "u\x00ser", {"k\x00ey": "v\x00al"}, info) is Status.OK
    m = only_message(collector, fw)
    assert m["userId"] == "u\x00ser"
    p = m["properties"]
    assert (p["flagKey"], p["ruleKey"], p["variationKey"], p["experiment_id"], p["variation_id"]) == (
        "f\x00lag", "r\x00ule", "v\x00ar", "1\x002", "3\x004")
    assert p["userAttributes"] == {"k\x00ey": "v\x00al"}


def test_the_core_decides_what_is_not_an_exposure(collector, make_client):
    fw = make_client()
    fw.set_datafile(DATAFILE.read_text())
    rollout = flag_info(rule_key="checkout_delivery", variation_key="on", experiment_id="6001",
                        variation_id="7001", decision_event_dispatched=False)
    no_rule = flag_info(rule_key=None, variation_key=None, experiment_id=None, variation_id=None, enabled=False)
    not_counted = flag_info(decision_event_dispatched=False)
    for info in (rollout, no_rule, not_counted):
        assert fw.on_decision("flag", "u", {}, info) is Status.SKIPPED
    assert fw.flush(5)
    assert collector.wait(1, timeout_ms=200) == 0
    assert fw.stats()["skipped"] == 3


def test_legacy_types_with_python_s_snake_case(collector, make_client):
    fw = make_client()
    fw.set_datafile(DATAFILE.read_text())
    feature = {"feature_key": "checkout_flow", "feature_enabled": True, "source": "feature-test",
               "source_info": {"experiment_key": "checkout_ab", "variation_key": "treatment"}}
    assert fw.on_decision("feature", "u1", {"a": 1}, feature) is Status.OK
    rollout = dict(feature, source="rollout", source_info={})
    assert fw.on_decision("feature", "u2", {}, rollout) is Status.SKIPPED
    ab = {"experiment_key": "checkout_ab", "variation_key": "control"}
    assert fw.on_decision("feature-test", "u3", {}, ab) is Status.OK
    # Variable getters: Optimizely counts no impression for them, nor does the core. Any value
    # JSON has no type for goes as its str().
    variable = dict(feature, variable_key="button_color", variable_value=object(), variable_type="string")
    assert fw.on_decision("feature-variable", "u4", {}, variable) is Status.SKIPPED
    assert fw.flush(10)
    assert collector.wait(3, timeout_ms=300) == 2
    got = sorted((m["userId"], m["properties"]["variation_id"]) for m in exposures(collector.messages()))
    assert got == [("u1", "5002"), ("u3", "5001")]
    assert fw.stats()["listener_errors"] == 0


@pytest.mark.parametrize("args", [
    ("flag", None, {}, None),                      # no decision_info
    ("flag", "u", {}, {"flag_key": 42}),           # not a string
    ("flag", None, {}, {"flag_key": "f"}),          # no user id: the core refuses it
    ("flag", "u", ["not", "a", "dict"], {"flag_key": "f", "rule_key": "r", "variation_key": "v"}),
    ("flag", "u", {"x": float("nan")}, {"flag_key": "f", "rule_key": "r", "variation_key": "v"}),
    ("flag", "\ud800", {}, {"flag_key": "f"}),     # not encodable as UTF-8
])
def test_bad_input_never_raises_and_is_counted(make_client, caplog, args):
    fw = make_client()
    with caplog.at_level("WARNING", logger="flagwire"):
        assert fw.listener(*args) is None
    assert fw.stats()["listener_errors"] == 1
    assert "listener error #1" in caplog.text
    assert fw.listener("flag", "fine", {}, flag_info()) is Status.OK  # and it keeps working


def test_errors_are_logged_once_then_every_thousandth(make_client, caplog):
    fw = make_client()
    with caplog.at_level("WARNING", logger="flagwire"):
        for _ in range(2000):
            fw.listener("flag", None, {}, {"flag_key": "f"})
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [w.getMessage().split(" (")[0] for w in warnings] == [
        "flagwire: listener error #1", "flagwire: listener error #1000", "flagwire: listener error #2000"]
    assert fw.stats()["listener_errors"] == 2000


def test_queue_full_is_dropped_and_counted_never_blocking(collector, make_client):
    # The sender is parked in a request the collector answers only after 3 s, so nothing
    # leaves the queue while it fills.
    collector.script({"status": 200, "delay_ms": 3000})
    fw = make_client(max_queue_events=10, batch_size=1, flush_interval_ms=1)
    assert fw.listener("flag", "first", {}, flag_info()) is Status.OK
    statuses = [fw.listener("flag", f"u{i}", {}, flag_info()) for i in range(30)]
    assert Status.QUEUE_FULL in statuses
    assert fw.stats()["dropped_queue_full"] == statuses.count(Status.QUEUE_FULL)
    assert fw.stats()["listener_errors"] == 0


def test_after_close_the_listener_ignores_decisions_and_warns_once(make_client, caplog):
    fw = make_client()
    fw.close(5)
    with caplog.at_level("WARNING", logger="flagwire"):
        assert fw.listener("flag", "u", {}, flag_info()) is None
        assert fw.listener("flag", "u", {}, flag_info()) is None
    assert caplog.text.count("a decision arrived after close") == 1


def test_listener_from_many_threads_while_closing(collector, make_client):
    fw = make_client()
    stop = threading.Event()
    results = []

    def decide(t):
        n = 0
        while not stop.is_set() and n < 20_000:
            results.append(fw.listener("flag", f"t{t}-{n}", {"t": t}, flag_info()))
            n += 1

    threads = [threading.Thread(target=decide, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(results) < 2000 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert fw.close(10) is True
    stop.set()
    for t in threads:
        t.join(30)
    ok = results.count(Status.OK)
    assert ok > 0 and set(results) <= {Status.OK, None}  # None: after close
    # Everything the core accepted before close was delivered: close flushed it.
    assert collector.wait(ok, timeout_ms=10_000) == ok
