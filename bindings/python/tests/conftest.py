"""Fixtures: the project's test collector (one process per test session, over real HTTP on
127.0.0.1), flagwire clients that are closed after each test, and offline Optimizely clients.

The tests import the installed flagwire (test.sh installs the wheel into a fresh venv), never
the source tree: tests/test_wheel.py checks where it came from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO = Path(__file__).resolve().parents[3]
TESTS = Path(__file__).resolve().parent
COLLECTOR_BIN = Path(os.environ.get("FLAGWIRE_COLLECTOR", REPO / "target" / "release" / "flagwire-collector"))
DATAFILE = REPO / "tests" / "data" / "minimal-datafile.json"
REPEATED_RULE_KEYS_DATAFILE = REPO / "tests" / "data" / "datafile-repeated-rule-keys.json"
HEADER = REPO / "include" / "flagwire.h"
DESIGN = REPO / "docs" / "design.md"


class Collector:
    """The control routes of flagwire-collector (collector/src/lib.rs)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if data is None else "POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def messages(self) -> List[Dict[str, Any]]:
        return self.request("/_test/messages")["messages"]

    def wait(self, count: int, timeout_ms: int = 10_000) -> int:
        """Waits until at least `count` messages arrived (bounded); returns how many there are."""
        path = f"/_test/wait?count={count}&timeout_ms={timeout_ms}"
        return self.request(path, timeout=timeout_ms / 1000 + 10)["count"]

    def reset(self) -> None:
        self.request("/_test/reset", {})

    def script(self, *steps: Dict[str, Any]) -> None:
        self.request("/_test/script", {"steps": list(steps)})


@pytest.fixture(scope="session")
def collector():
    if not COLLECTOR_BIN.exists():
        pytest.exit(f"missing {COLLECTOR_BIN}: cargo build --release -p flagwire-collector", 2)
    proc = subprocess.Popen([str(COLLECTOR_BIN), "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()  # the first line is its base URL
        assert url.startswith("http://127.0.0.1:"), f"collector printed {url!r}"
        yield Collector(url)
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture(autouse=True)
def _fresh_collector(collector: Collector) -> None:
    collector.reset()


@pytest.fixture
def make_client(collector: Collector):
    """Factory of flagwire clients sending to the collector; all closed after the test."""
    import flagwire

    clients: List[flagwire.Client] = []

    def make(**options: Any) -> flagwire.Client:
        options.setdefault("endpoint", collector.url)
        options.setdefault("flush_interval_ms", 50)
        client = flagwire.Client(write_key=options.pop("write_key", "test-key"), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(5)


class RecordingDispatcher:
    """The SDK's event dispatcher: records every impression, sends nothing (no network)."""

    def __init__(self) -> None:
        self.events: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    def dispatch_event(self, event: Any) -> None:
        with self._lock:
            self.events.append(event.params)

    def impressions(self) -> List[Dict[str, Any]]:
        """One dict per decision the SDK counted: visitor, ids and metadata."""
        out = []
        with self._lock:
            events = list(self.events)
        for params in events:
            for visitor in params["visitors"]:
                for snapshot in visitor["snapshots"]:
                    for decision in snapshot["decisions"]:
                        out.append({"user_id": visitor["visitor_id"], **decision})
        return out


@pytest.fixture
def make_optimizely():
    """Factory of real optimizely-sdk clients deciding offline from a datafile, with a
    forwarding event processor (impressions reach the dispatcher synchronously) and ODP off."""
    from offline_sdk import offline_optimizely

    made = []

    def make(datafile: Path = DATAFILE, **kwargs: Any):
        dispatcher = RecordingDispatcher()
        client = offline_optimizely(datafile.read_text(), dispatcher, **kwargs)
        assert client.is_valid
        made.append(client)
        return client, dispatcher

    yield make
    for client in made:
        client.close()


def run_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs tests/scripts/<name> with this interpreter (fork and exit behaviour need a process
    of their own); fails the test with its output on a non-zero exit."""
    proc = subprocess.run(
        [sys.executable, str(TESTS / "scripts" / name), *args],
        capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def exposures(messages: List[Dict[str, Any]], event: str = "Experiment Viewed") -> List[Dict[str, Any]]:
    return [m for m in messages if m.get("event") == event]


def key_of(message: Dict[str, Any]) -> tuple:
    p = message["properties"]
    return (message["userId"], p["flagKey"], p["ruleKey"], p["variationKey"],
            p.get("experiment_id"), p.get("variation_id"))


def expected_from_impressions(impressions: List[Dict[str, Any]]) -> List[tuple]:
    """The SDK's own record of experiment decisions it counted (rule_type feature-test):
    the ground truth the exposures must match one to one."""
    return sorted(
        (i["user_id"], i["metadata"]["flag_key"], i["metadata"]["rule_key"], i["metadata"]["variation_key"],
         i["experiment_id"], i["variation_id"])
        for i in impressions
        if i["metadata"]["rule_type"] == "feature-test"
    )
