"""Pre-forking servers: flagwire created and attached in the parent, workers forked from it
(os.fork as gunicorn --preload does; multiprocessing's fork context, Process and Pool; Celery's
billiard). Nothing flagwire-specific is called after fork: every decision of every process is
delivered exactly once, by the process that made it."""

from conftest import exposures, expected_from_impressions, key_of, run_script

DECISIONS = 200


def expected_for(make_optimizely, prefixes):
    """The same users decided by the SDK in this process: bucketing is deterministic."""
    oc, dispatcher = make_optimizely()
    for prefix in prefixes:
        for i in range(DECISIONS):
            oc.create_user_context(f"{prefix}{i}", {"worker": prefix}).decide("checkout_flow")
    return expected_from_impressions(dispatcher.impressions())


def check_delivered(collector, expected):
    assert collector.wait(len(expected) + 1, timeout_ms=500) == len(expected)
    got = exposures(collector.messages())
    assert sorted(key_of(m) for m in got) == expected
    assert len({m["messageId"] for m in got}) == len(got)  # ids stay unique across the fork
    return got


def test_os_fork_workers(collector, make_optimizely):
    run_script("fork_os.py", collector.url, "3", str(DECISIONS))
    expected = expected_for(make_optimizely, ["parent", "child0-", "child1-", "child2-"])
    got = check_delivered(collector, expected)
    assert {m["properties"]["userAttributes"]["worker"] for m in got} == {"parent", "child0-", "child1-", "child2-"}


def test_multiprocessing_and_billiard_workers(collector, make_optimizely):
    proc = run_script("fork_multiprocessing.py", collector.url, str(DECISIONS))
    prefixes = ["parent", "process", "pool0-", "pool1-", "pool2-"]
    if proc.stdout.strip() == "billiard":
        prefixes.append("billiard")
    expected = expected_for(make_optimizely, prefixes)
    check_delivered(collector, expected)
