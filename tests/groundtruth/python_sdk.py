"""Ground truth (issue 19 item 3): the real Optimizely Python SDK decides for thousands of users on a
datafile with A/B, MAB, targeted-delivery and Feature Rollout experiments, a mutex group, a global
and a local holdout, sendFlagDecisions on, DISABLE_DECISION_EVENT evaluations and forced decisions.
A synchronous (forwarding) event processor hands each of the SDK's own impression events to a
capturing dispatcher; a DECISION listener hands each notification, as JSON, to flagwire
(libflagwire.so through ctypes, `flagwire_on_notification_json`), which sends to the test collector binary. Then:

  exactly one Experiment Viewed per impression that is not a rollout, with the same user, flag,
  rule, variation, experiment id and variation id, and ruleType `experiment` / `holdout`.

One documented exception: a flag-level forced decision (no rule) gets an impression without an
experiment id from the SDK; flagwire sends nothing for it (there is no rule to attribute it to).

Usage: python_sdk.py <libflagwire.so> <flagwire-collector> <datafile.json> [users]
"""

import collections
import ctypes
import json
import subprocess
import sys
import urllib.request

from optimizely import optimizely, version as sdk_version
from optimizely.decision.optimizely_decide_option import OptimizelyDecideOption
from optimizely.event.event_processor import ForwardingEventProcessor
from optimizely.helpers import enums
from optimizely.helpers.sdk_settings import OptimizelySdkSettings
from optimizely.optimizely_user_context import OptimizelyUserContext

OK, SKIPPED = 0, 1
WRITE_KEY = "groundtruth-key"


def load_flagwire(path):
    """The few C functions this test needs (include/flagwire.h)."""
    lib = ctypes.CDLL(path)
    p = ctypes.c_void_p
    for name, args, res in [
        ("flagwire_abi_version", [], ctypes.c_uint32),
        ("flagwire_init", [ctypes.c_char_p, ctypes.POINTER(p), ctypes.POINTER(p)], ctypes.c_int),
        ("flagwire_set_datafile_json", [p, ctypes.c_char_p, ctypes.c_size_t, p], ctypes.c_int),
        ("flagwire_on_notification_json", [p, ctypes.c_char_p, ctypes.c_size_t, p], ctypes.c_int),
        ("flagwire_flush", [p, ctypes.c_uint32], ctypes.c_int),
        ("flagwire_stats", [p], p),
        ("flagwire_string_free", [p], None),
        ("flagwire_shutdown", [p, ctypes.c_uint32], ctypes.c_int),
    ]:
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    assert lib.flagwire_abi_version() == 2, "ABI version mismatch"
    return lib


def stats(lib, client):
    ptr = lib.flagwire_stats(client)
    try:
        return json.loads(ctypes.string_at(ptr).decode())
    finally:
        lib.flagwire_string_free(ptr)


def collector_messages(url):
    with urllib.request.urlopen(url + "/_test/messages", timeout=10) as r:
        return json.load(r)["messages"]


class Capture:
    """Custom event dispatcher: keeps every impression the SDK sends, one decision each."""

    def __init__(self):
        self.impressions = []

    def dispatch_event(self, log_event):
        for visitor in log_event.params["visitors"]:
            for snapshot in visitor["snapshots"]:
                for d in snapshot.get("decisions", []):
                    m = d["metadata"]
                    self.impressions.append((visitor["visitor_id"], m["flag_key"], m["rule_key"], m["variation_key"],
                                             d["experiment_id"], d["variation_id"] or "", m["rule_type"]))


def main():
    lib_path, collector_bin, datafile_path = sys.argv[1:4]
    users = int(sys.argv[4]) if len(sys.argv) > 4 else 4000
    datafile = open(datafile_path).read()
    types = {e["id"]: e.get("type") for e in json.loads(datafile)["experiments"]}
    for g in json.loads(datafile)["groups"]:
        types.update({e["id"]: e.get("type") for e in g["experiments"]})

    collector = subprocess.Popen([collector_bin, "--port", "0", "--quiet", "--write-key", WRITE_KEY],
                                 stdout=subprocess.PIPE, text=True)
    try:
        url = collector.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        run(lib_path, url, datafile, types, users)
    finally:
        collector.kill()
        collector.wait()


def run(lib_path, url, datafile, types, users):
    lib = load_flagwire(lib_path)
    client, err = ctypes.c_void_p(), ctypes.c_void_p()
    config = {"write_key": WRITE_KEY, "endpoint": url, "flush_interval_ms": 200, "max_queue_events": 100000}
    assert lib.flagwire_init(json.dumps(config).encode(), ctypes.byref(client), ctypes.byref(err)) == OK
    raw = datafile.encode()
    assert lib.flagwire_set_datafile_json(client, raw, len(raw), None) == OK

    capture = Capture()
    sdk = optimizely.Optimizely(datafile=datafile, event_dispatcher=capture,
                                event_processor=ForwardingEventProcessor(capture),
                                settings=OptimizelySdkSettings(odp_disabled=True))
    assert sdk.is_valid, "the SDK refused the datafile"
    statuses = collections.Counter()
    not_dispatched = collections.Counter()

    def on_decision(kind, user_id, attributes, decision_info):
        if decision_info.get("decision_event_dispatched") is False:
            not_dispatched[decision_info.get("rule_key") or ""] += 1
        note = {"type": kind, "user_id": user_id, "attributes": attributes, "decision_info": decision_info}
        raw = json.dumps(note).encode()
        statuses[lib.flagwire_on_notification_json(client, raw, len(raw), None)] += 1

    sdk.notification_center.add_notification_listener(enums.NotificationTypes.DECISION, on_decision)

    flags = ["checkout_flow", "search_flow", "promo_a", "promo_b", "banner_flow"]
    flag_forced = set()
    for i in range(users):
        user_id = f"user{i}"
        user = sdk.create_user_context(user_id, {"plan": "pro" if i % 2 else "free", "seats": i % 40})
        options = [OptimizelyDecideOption.DISABLE_DECISION_EVENT] if i % 10 == 3 else []
        if i % 50 == 7:
            # Forced on a rule, to a variation of another rule of the flag (the delivery's "on").
            ctx = OptimizelyUserContext.OptimizelyDecisionContext("checkout_flow", "checkout_ab")
            user.set_forced_decision(ctx, OptimizelyUserContext.OptimizelyForcedDecision("on"))
        if i % 97 == 11:
            ctx = OptimizelyUserContext.OptimizelyDecisionContext("promo_a", None)
            user.set_forced_decision(ctx, OptimizelyUserContext.OptimizelyForcedDecision("a_treatment"))
            flag_forced.add(user_id)
        user.decide_for_keys(flags, options)
        if i % 13 == 0:
            user.decide("checkout_flow")  # the same user decided twice: two impressions, two events

    assert lib.flagwire_flush(client, 20000) == OK
    expected = collections.Counter()
    unattributable = 0
    by_type = collections.Counter()
    for (user, flag, rule, variation, exp_id, var_id, rule_type) in capture.impressions:
        by_type[rule_type] += 1
        if rule_type == "rollout":
            continue
        if exp_id == "":
            assert user in flag_forced and rule == "", (user, flag, rule)
            unattributable += 1
            continue
        kind = {"feature-test": "experiment", "holdout": "holdout"}[rule_type]
        expected[(user, flag, rule, variation, exp_id, var_id, kind)] += 1

    total = sum(expected.values())
    # flagwire_flush returned OK: every event is delivered, i.e. stored by the collector.
    messages = collector_messages(url)
    actual = collections.Counter()
    for m in messages:
        p = m["properties"]
        actual[(m["userId"], p["flagKey"], p["ruleKey"], p["variationKey"], p.get("experiment_id"), p.get("variation_id"), p.get("ruleType"))] += 1
    missing, extra = expected - actual, actual - expected
    assert not missing and not extra, (f"{sum(missing.values())} missing, e.g. {list(missing)[:3]}; "
                                       f"{sum(extra.values())} extra, e.g. {list(extra)[:3]}")
    for m in messages:
        assert m["properties"].get("experimentType") == types.get(m["properties"]["experiment_id"]), m

    s = stats(lib, client)
    holdouts = sum(n for k, n in expected.items() if k[6] == "holdout")
    assert (s["exposures"], s["holdout_exposures"], s["held"]) == (total, holdouts, 0), s
    per_variation = collections.Counter()
    for (_, flag, rule, variation, _, _, _), n in expected.items():
        per_variation[(flag, rule, variation)] += n
    reported = {(c["flag_key"], c["rule_key"], c["variation_key"]): c["exposures"] for c in s["exposures_by_variation"]}
    assert reported == dict(per_variation), (reported, per_variation)
    assert set(statuses) <= {OK, SKIPPED}, statuses

    # The datafile must have exercised every case, or the comparison proves less than it says.
    def count(pred):
        return sum(n for k, n in expected.items() if pred(*k))
    coverage = {
        "global holdout": count(lambda u, f, r, v, e, vi, t: r == "global_holdout"),
        "local holdout": count(lambda u, f, r, v, e, vi, t: r == "local_holdout"),
        "holdout on a flag it excludes": count(lambda u, f, r, v, e, vi, t: r == "global_holdout" and f == "search_flow"),
        "fr everyone else": count(lambda u, f, r, v, e, vi, t: r == "search_fr" and v == "off"),
        "mutex group": count(lambda u, f, r, v, e, vi, t: r in ("promo_a_test", "promo_b_test")),
        "td": count(lambda u, f, r, v, e, vi, t: r == "banner_td"),
        "forced variation": count(lambda u, f, r, v, e, vi, t: r == "checkout_ab" and v == "on"),
        "rollout impressions (not events)": by_type["rollout"],
        "flag-level forced (no rule)": unattributable,
        "DISABLE_DECISION_EVENT decisions (no impression, no event)": sum(not_dispatched.values()),
        "... of them on a holdout": not_dispatched["global_holdout"] + not_dispatched["local_holdout"],
    }
    empty = [k for k, n in coverage.items() if n == 0 and k != "holdout on a flag it excludes"]
    assert not empty, f"not exercised: {empty}"
    print(f"optimizely-sdk {sdk_version.__version__}: {users} users, {len(capture.impressions)} impressions "
          f"({dict(by_type)}), {total} Experiment Viewed events match one to one; "
          + ", ".join(f"{k}: {n}" for k, n in coverage.items()))
    assert lib.flagwire_shutdown(client, 10000) == OK


if __name__ == "__main__":
    main()
