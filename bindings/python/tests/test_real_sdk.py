"""The real optimizely-sdk deciding offline for thousands of users, with flagwire attached: the
exposures at the collector are exactly the experiment decisions the SDK itself counted (its own
impression events), once each, with the SDK's ids."""

import threading

from optimizely.decision.optimizely_decide_option import OptimizelyDecideOption

from conftest import REPEATED_RULE_KEYS_DATAFILE, expected_from_impressions, exposures, key_of

USERS = 3000


def delivered(collector, client, expected_count):
    assert client.flush(30)
    # One more than expected, briefly: proves nothing extra arrives (bounded wait).
    assert collector.wait(expected_count + 1, timeout_ms=300) == expected_count
    return exposures(collector.messages())


def test_thousands_of_users_exactly_the_sdk_s_experiment_decisions(collector, make_client, make_optimizely):
    oc, dispatcher = make_optimizely()
    fw = make_client()
    fw.attach(oc)
    for i in range(USERS):
        oc.create_user_context(f"user{i}", {"plan": "pro" if i % 2 else "free"}).decide("checkout_flow")

    expected = expected_from_impressions(dispatcher.impressions())
    # The minimal datafile sends about half of the users to the A/B test, half to the rollout.
    assert USERS * 0.4 < len(expected) < USERS * 0.6
    got = delivered(collector, fw, len(expected))
    assert sorted(key_of(m) for m in got) == expected
    assert len({m["messageId"] for m in got}) == len(got)
    by_user = {m["userId"]: m for m in got}
    assert by_user[expected[0][0]]["properties"]["userAttributes"]["plan"] in ("pro", "free")
    stats = fw.stats()
    assert stats["decisions"] == USERS
    assert stats["exposures"] == stats["delivered"] == len(expected)
    assert stats["skipped"] == USERS - len(expected)
    assert stats["listener_errors"] == 0


def test_rule_keys_repeated_across_flags_are_classified_per_flag(collector, make_client, make_optimizely):
    # shared_rule is an A/B test in flag_a and a rollout rule in flag_b; sendFlagDecisions is on,
    # so rollout decisions are dispatched too: only the datafile tells them apart.
    oc, dispatcher = make_optimizely(REPEATED_RULE_KEYS_DATAFILE)
    fw = make_client()
    fw.attach(oc)
    for i in range(1000):
        oc.create_user_context(f"u{i}").decide_all()
    expected = expected_from_impressions(dispatcher.impressions())
    rollouts = [i for i in dispatcher.impressions() if i["metadata"]["rule_type"] == "rollout"]
    assert expected and rollouts
    got = delivered(collector, fw, len(expected))
    assert sorted(key_of(m) for m in got) == expected
    assert {m["properties"]["flagKey"] for m in got} == {"flag_a", "flag_c", "flag_d"}


def test_disable_decision_event_is_not_an_exposure(collector, make_client, make_optimizely):
    oc, dispatcher = make_optimizely()
    fw = make_client()
    fw.attach(oc)
    for i in range(500):
        oc.create_user_context(f"quiet{i}").decide("checkout_flow", [OptimizelyDecideOption.DISABLE_DECISION_EVENT])
    assert dispatcher.impressions() == []
    assert fw.flush(10)
    assert collector.wait(1, timeout_ms=300) == 0
    assert fw.stats()["skipped"] == 500


def test_legacy_apis_go_as_notification_json(collector, make_client, make_optimizely):
    oc, dispatcher = make_optimizely()
    fw = make_client()
    fw.attach(oc)
    for i in range(400):
        oc.is_feature_enabled("checkout_flow", f"legacy{i}")
    expected = expected_from_impressions(dispatcher.impressions())
    assert expected
    got = delivered(collector, fw, len(expected))
    # Legacy notifications carry no ids of their own: the core takes them from the datafile.
    assert sorted(key_of(m) for m in got) == expected


def test_threads_deciding_at_once(collector, make_client, make_optimizely):
    oc, dispatcher = make_optimizely()
    fw = make_client()
    fw.attach(oc)

    def work(t):
        for i in range(300):
            oc.create_user_context(f"t{t}-{i}", {"thread": t}).decide("checkout_flow")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    expected = expected_from_impressions(dispatcher.impressions())
    got = delivered(collector, fw, len(expected))
    assert sorted(key_of(m) for m in got) == expected
    assert len({m["messageId"] for m in got}) == len(got)
    assert fw.stats()["decisions"] == 8 * 300


def test_nul_bytes_in_strings_are_data(collector, make_client, make_optimizely):
    oc, dispatcher = make_optimizely()
    fw = make_client()
    fw.attach(oc)
    for i in range(200):
        oc.create_user_context(f"nul\x00user{i}", {"note": "a\x00b"}).decide("checkout_flow")
    expected = expected_from_impressions(dispatcher.impressions())
    assert expected and all("\x00" in e[0] for e in expected)
    got = delivered(collector, fw, len(expected))
    assert sorted(key_of(m) for m in got) == expected
    assert all(m["properties"]["userAttributes"] == {"note": "a\x00b"} for m in got)
