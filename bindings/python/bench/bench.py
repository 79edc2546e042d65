"""Python binding benchmark (issue 16 item 3): flagwire against what users write today, a
hand-written DECISION listener calling Segment's analytics-python (`segment-analytics-python`).

    python bench.py --collector target/release/flagwire-collector [--json OUT] [--quick]

1. FFI: one flagwire_on_decision_record call (a prepacked exposure record) through ctypes as
   this package calls it, ctypes as usually written (argtypes, CDLL), and cffi's ABI mode.
2. Caller cost: ns per listener call as optimizely-sdk makes it, (type, user_id, attributes,
   decision_info), 1,024 distinct users with 2 attributes each; flagwire (datafile set) vs the
   Segment listener, plus baselines. Rounds interleaved, so load from other processes spreads
   over every scenario; wall median and min..max over rounds, and the calling thread's CPU.
3. decide() throughput, one thread, of the real SDK alone, with flagwire attached, with the
   Segment listener attached.
4. Delivered events/s end to end, at per-request latency 0, 20, 50 and 200 ms (the collector's
   /_test/latency): N listener calls as fast as they go, then a flush, timed until the
   collector holds all N.
Both libraries send to the same collector with their defaults, except Segment's queue bound
(10,000 messages), raised so that it never drops; flagwire's default holds 200,000.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import flagwire
from optimizely import optimizely
from optimizely.event.event_processor import ForwardingEventProcessor
from optimizely.helpers.enums import NotificationTypes
from optimizely.helpers.sdk_settings import OptimizelySdkSettings
from segment.analytics import Client as SegmentClient

REPO = Path(__file__).resolve().parents[3]
DATAFILE = (REPO / "tests" / "data" / "minimal-datafile.json").read_text()
USERS = 1024
LATENCIES_MS = (0, 20, 50, 200)


# -- the collector ---------------------------------------------------------------------------

class Collector:
    def __init__(self, binary: str) -> None:
        self.proc = subprocess.Popen([binary, "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()

    def call(self, path: str, body=None, timeout: float = 300):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        self.call("/_test/reset", {})

    def count(self) -> int:
        return self.call("/_test/count")["count"]

    def set_latency(self, ms: int) -> bool:
        """False when this collector has no per-request latency (an older build)."""
        try:
            self.call("/_test/latency", {"latency_ms": ms, "jitter_ms": 0})
            return True
        except urllib.error.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


# -- what is measured ------------------------------------------------------------------------

def notifications(rule_key="checkout_ab", variation_key="treatment", experiment_id="2001",
                  variation_id="5002", dispatched=True, attributes=True):
    """USERS distinct listener calls shaped as optimizely-sdk 5.x makes them (a fresh attributes
    dict and decision_info per call)."""
    calls = []
    for i in range(USERS):
        attrs = {"plan": "pro" if i % 2 else "free", "country": "DE"} if attributes else {}
        info = {"flag_key": "checkout_flow", "enabled": True, "variables": {"button_color": "green"},
                "variation_key": variation_key, "rule_key": rule_key, "reasons": [],
                "decision_event_dispatched": dispatched, "experiment_id": experiment_id,
                "variation_id": variation_id}
        calls.append(("flag", f"user-{i:04d}", attrs, info))
    return calls


def segment_listener(segment: SegmentClient):
    """What the integration guides have users write: filter on type and rule, then track."""

    def listener(decision_type, user_id, attributes, decision_info):
        if decision_type != "flag":
            return
        rule_key = decision_info.get("rule_key")
        variation_key = decision_info.get("variation_key")
        if not rule_key or not variation_key:
            return
        segment.track(user_id=user_id, event="Experiment Viewed", properties={
            "flagKey": decision_info["flag_key"], "ruleKey": rule_key, "variationKey": variation_key,
            "enabled": decision_info.get("enabled"), "experiment_id": decision_info.get("experiment_id"),
            "experiment_name": rule_key, "variation_id": decision_info.get("variation_id"),
            "variation_name": variation_key, "userAttributes": attributes,
        })

    return listener


def time_calls(fn, calls, n):
    """(wall ns per call, thread CPU ns per call) over n calls cycling through `calls`."""
    gc.collect()
    k = len(calls)
    wall0, cpu0 = time.perf_counter_ns(), time.thread_time_ns()
    for i in range(n):
        fn(*calls[i % k])
    wall, cpu = time.perf_counter_ns() - wall0, time.thread_time_ns() - cpu0
    return wall / n, cpu / n


def machine_load():
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} cores"


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "samples": len(values)}


def interleaved(scenarios, rounds, between=None):
    """{name: ([wall per round], [cpu per round])}; round r of every scenario, then round r+1."""
    out = {name: ([], []) for name, _ in scenarios}
    for _ in range(rounds):
        for name, run in scenarios:
            wall, cpu = run()
            out[name][0].append(wall)
            out[name][1].append(cpu)
            if between:
                between()
    return out


# -- 1. FFI call cost ------------------------------------------------------------------------

def ffi_costs(url, rounds, n):
    from flagwire._record import decision_record

    lib_path = flagwire.library_path()
    fw = flagwire.Client(write_key="bench", endpoint=url, max_queue_events=2_000_000,
                         max_queue_bytes=2_000_000_000, log_level="off")
    fw.set_datafile(DATAFILE)
    ptr = fw._handle._ptr
    _, user_id, attrs, info = notifications()[0]
    record = decision_record(user_id, attrs, info)
    size = len(record)
    err = ctypes.c_void_p()
    err_ref = ctypes.byref(err)

    quick = ctypes.PyDLL(lib_path)["flagwire_on_decision_record"]  # as flagwire calls it
    quick.restype = ctypes.c_int
    usual = ctypes.CDLL(lib_path)["flagwire_on_decision_record"]  # as ctypes is usually written
    usual.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
    usual.restype = ctypes.c_int
    scenarios = [
        ("ctypes PyDLL, no argtypes (flagwire)", lambda: time_calls(lambda: quick(ptr, record, size, err_ref), [()], n)),
        ("ctypes CDLL with argtypes", lambda: time_calls(lambda: usual(ptr, record, size, err_ref), [()], n)),
    ]
    versions = {}
    try:
        import cffi

        ffi = cffi.FFI()
        ffi.cdef("int flagwire_on_decision_record(void *, const char *, size_t, char **);")
        clib = ffi.dlopen(lib_path)
        cptr = ffi.cast("void *", ptr.value)
        cerr = ffi.new("char **")
        cfn = clib.flagwire_on_decision_record
        scenarios.append(("cffi ABI mode", lambda: time_calls(lambda: cfn(cptr, record, size, cerr), [()], n)))
        versions["cffi"] = cffi.__version__
    except ImportError:
        pass
    results = interleaved(scenarios, rounds, between=lambda: fw.flush(60))
    fw.close(60)
    return results, versions


# -- 2. caller cost --------------------------------------------------------------------------

def caller_costs(url, rounds, n):
    fw = flagwire.Client(write_key="bench", endpoint=url)
    fw.set_datafile(DATAFILE)
    segment = SegmentClient("bench", host=url, max_queue_size=4 * n)  # its default, 10,000, would drop
    seg = segment_listener(segment)
    exposure = notifications()
    bare = notifications(attributes=False)
    rollout = notifications(rule_key="checkout_delivery", variation_key="on", experiment_id="6001",
                            variation_id="7001", dispatched=False)
    listener = fw.listener

    def empty(decision_type, user_id, attributes, decision_info):
        return None

    abi = flagwire._native.load().abi_version
    scenarios = [
        ("flagwire", lambda: time_calls(listener, exposure, n)),
        ("segment", lambda: time_calls(seg, exposure, n)),
        ("flagwire, no attributes", lambda: time_calls(listener, bare, n)),
        ("flagwire, rollout (skipped)", lambda: time_calls(listener, rollout, n)),
        ("baseline: empty Python listener", lambda: time_calls(empty, exposure, n)),
        ("baseline: bare ctypes call", lambda: time_calls(abi, [()], n)),
    ]

    def drain():
        fw.flush(120)
        segment.flush()

    results = interleaved(scenarios, rounds, between=drain)
    stats = fw.stats()
    fw.close(60)
    segment.shutdown()
    assert stats["listener_errors"] == 0, stats
    return results


# -- 3. decide() throughput ------------------------------------------------------------------

class NoDispatch:
    def dispatch_event(self, event):
        pass


def sdk():
    d = NoDispatch()
    return optimizely.Optimizely(datafile=DATAFILE, event_dispatcher=d, event_processor=ForwardingEventProcessor(d),
                                 settings=OptimizelySdkSettings(odp_disabled=True))


def decide_throughput(url, rounds, n):
    alone, with_fw, with_seg = sdk(), sdk(), sdk()
    fw = flagwire.Client(write_key="bench", endpoint=url)
    fw.attach(with_fw)
    segment = SegmentClient("bench", host=url, max_queue_size=4 * n)
    with_seg.notification_center.add_notification_listener(NotificationTypes.DECISION, segment_listener(segment))
    users = [(f"user-{i:04d}", {"plan": "pro" if i % 2 else "free", "country": "DE"}) for i in range(USERS)]

    def run(client):
        def go():
            gc.collect()
            wall0, cpu0 = time.perf_counter_ns(), time.thread_time_ns()
            for i in range(n):
                user_id, attrs = users[i % USERS]
                client.create_user_context(user_id, attrs).decide("checkout_flow")
            wall, cpu = time.perf_counter_ns() - wall0, time.thread_time_ns() - cpu0
            return n / (wall / 1e9), n / (cpu / 1e9)
        return go

    def drain():
        fw.flush(120)
        segment.flush()

    results = interleaved([("sdk alone", run(alone)), ("flagwire", run(with_fw)), ("segment", run(with_seg))],
                          rounds, between=drain)
    fw.close(60)
    segment.shutdown()
    for c in (alone, with_fw, with_seg):
        c.close()
    return results  # {name: ([decides per wall second], [decides per CPU second of the thread])}


# -- 4. delivered events/s -------------------------------------------------------------------

def delivered_rate(collector, make_listener, n, deadline_s):
    """Events/s from the first listener call until the collector holds all n (or None)."""
    collector.reset()
    calls = notifications()
    listener, flush, done = make_listener(n)
    t0 = time.perf_counter()
    for i in range(n):
        listener(*calls[i % USERS])
    # Then a flush, as at a job's end or shutdown: the tail of the burst leaves now instead of
    # after either library's timer (flagwire's flush_interval_ms 1 s, Segment's upload_interval
    # 0.5 s), which would otherwise dominate a burst of a few seconds.
    flush()
    while collector.count() < n:
        if time.perf_counter() - t0 > deadline_s:
            done()
            return None
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    done()
    return n / elapsed


def delivered(collector, runs, sizes):
    def flagwire_listener(n):
        fw = flagwire.Client(write_key="bench", endpoint=collector.url)  # its defaults hold 200,000 events
        fw.set_datafile(DATAFILE)
        return fw.listener, lambda: fw.flush(300), lambda: fw.close(0)

    def segment_(n):
        segment = SegmentClient("bench", host=collector.url, max_queue_size=2 * n)
        return segment_listener(segment), segment.flush, segment.shutdown

    out = {}
    for latency in LATENCIES_MS:
        collector.set_latency(latency)
        n = sizes[latency]
        rates = {"flagwire": [], "segment": []}
        for _ in range(runs):
            for name, make in (("flagwire", flagwire_listener), ("segment", segment_)):
                rates[name].append(delivered_rate(collector, make, n, deadline_s=300))
        out[latency] = (n, rates)
        print(f"  {latency:>3} ms: n={n} flagwire {rates['flagwire']}  segment {rates['segment']}", flush=True)
    collector.set_latency(0)
    return out


# -- report ----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--collector", default=str(REPO / "target" / "release" / "flagwire-collector"))
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and calls (a smoke run)")
    args = ap.parse_args()
    rounds, calls, decides = (3, 5_000, 2_000) if args.quick else (9, 20_000, 10_000)
    runs = 1 if args.quick else 3
    sizes = ({0: 2_000, 20: 2_000, 50: 1_000, 200: 500} if args.quick
             else {0: 20_000, 20: 20_000, 50: 20_000, 200: 10_000})

    collector = Collector(args.collector)
    measures, notes = [], []
    versions = {"python": platform.python_version(), "optimizely-sdk": metadata.version("optimizely-sdk"),
                "segment-analytics-python": metadata.version("segment-analytics-python"),
                "flagwire (python)": flagwire.__version__, "libflagwire": flagwire.version()}
    try:
        print("1. FFI: one flagwire_on_decision_record call (ns, thread CPU median)", flush=True)
        ffi, ffi_versions = ffi_costs(collector.url, rounds, calls)
        versions.update(ffi_versions)
        for name, (walls, cpus) in ffi.items():
            print(f"  {name:40s} wall {statistics.median(walls):7.0f}  cpu {statistics.median(cpus):7.0f}")
            measures.append({"name": f"Python FFI: flagwire_on_decision_record via {name}", "unit": "ns",
                             "better": "lower", "flagwire": summary(cpus),
                             "note": f"thread CPU; wall median {statistics.median(walls):.0f} ns; the core's own work included"})

        print("2. Caller cost per listener call (ns)", flush=True)
        cost = caller_costs(collector.url, rounds, calls)
        for name, (walls, cpus) in cost.items():
            print(f"  {name:35s} wall {statistics.median(walls):8.0f} [{min(walls):.0f}..{max(walls):.0f}]"
                  f"  cpu {statistics.median(cpus):8.0f}")
        fw_wall, fw_cpu = cost["flagwire"]
        seg_wall, seg_cpu = cost["segment"]
        base = {k: statistics.median(v[1]) for k, v in cost.items() if k.startswith("baseline")}
        # The calling thread's CPU time is the headline: on a shared machine wall time mostly
        # measures the scheduler. It is conservative for flagwire: it leaves out the GIL waits
        # that Segment's consumer thread (Python) imposes on the caller, which wall time shows.
        measures.append({
            "name": "Python listener: flag exposure, datafile, 2 attributes (vs a hand-written analytics.track listener)",
            "unit": "ns", "better": "lower", "headline": "caller",
            "goal": "<= 1/5 of Segment's", "goal_value": statistics.median(seg_cpu) / 5, "goal_kind": "absolute",
            "flagwire": summary(fw_cpu), "peer": {"name": "segment-analytics-python", **summary(seg_cpu)},
            "note": (f"calling thread's CPU per call, {rounds} interleaved rounds x {calls:,} calls; wall medians: "
                     f"flagwire {statistics.median(fw_wall):,.0f} ns [{min(fw_wall):,.0f}-{max(fw_wall):,.0f}], Segment "
                     f"{statistics.median(seg_wall):,.0f} ns [{min(seg_wall):,.0f}-{max(seg_wall):,.0f}] "
                     f"(ratio {statistics.median(fw_wall) / statistics.median(seg_wall):.2f}); baselines: empty Python "
                     f"listener {base['baseline: empty Python listener']:.0f} ns, bare ctypes call "
                     f"{base['baseline: bare ctypes call']:.0f} ns; {machine_load()}"),
        })
        for name in ("flagwire, no attributes", "flagwire, rollout (skipped)"):
            walls, cpus = cost[name]
            measures.append({"name": f"Python listener: {name.split(', ', 1)[1]}", "unit": "ns", "better": "lower",
                             "flagwire": summary(cpus), "note": f"thread CPU; wall median {statistics.median(walls):,.0f} ns"})

        print("3. decide() per second, one thread", flush=True)
        dec = decide_throughput(collector.url, rounds // 2 + 1, decides)
        for name, (walls, cpus) in dec.items():
            print(f"  {name:12s} {statistics.median(cpus):9.0f} decides/CPU-s [{min(cpus):.0f}..{max(cpus):.0f}]"
                  f"  wall {statistics.median(walls):9.0f} decides/s")
        alone = statistics.median(dec["sdk alone"][1])
        fw_dec, seg_dec = dec["flagwire"][1], dec["segment"][1]
        measures.append({
            "name": "Python: optimizely-sdk decide() with the listener attached, 1 thread",
            "unit": "decides/s", "better": "higher", "headline": "decide", "goal_kind": "vs_peer",
            "goal": "higher than with Segment's listener",
            "flagwire": summary(fw_dec), "peer": {"name": "segment-analytics-python", **summary(seg_dec)},
            "note": f"decides per second of the calling thread's CPU (wall medians: SDK alone "
                    f"{statistics.median(dec['sdk alone'][0]):,.0f}, flagwire {statistics.median(dec['flagwire'][0]):,.0f}, "
                    f"Segment {statistics.median(dec['segment'][0]):,.0f}); the SDK alone: {alone:,.0f}; flagwire "
                    f"attached keeps {100 * statistics.median(fw_dec) / alone:.0f}% of it, Segment's listener "
                    f"{100 * statistics.median(seg_dec) / alone:.0f}%; {machine_load()}",
        })

        print("4. Delivered events/s end to end, per-request latency", flush=True)
        if collector.set_latency(0):
            for latency, (n, rates) in delivered(collector, runs, sizes).items():
                fw_rates = [r for r in rates["flagwire"] if r is not None]
                seg_rates = [r for r in rates["segment"] if r is not None]
                if not fw_rates or not seg_rates:
                    notes.append(f"{latency} ms: a run did not finish within 300 s")
                    continue
                measures.append({
                    "name": f"Python: delivered events/s, {latency} ms per request", "unit": "events/s",
                    "better": "higher", "headline": "throughput", "goal": "higher than Segment's",
                    "goal_kind": "vs_peer", "flagwire": summary(fw_rates),
                    "peer": {"name": "segment-analytics-python", **summary(seg_rates)},
                    "note": f"{n:,} events through the listener, then a flush; defaults; {runs} runs; {machine_load()}",
                })
        else:
            notes.append("delivered events/s not measured: this flagwire-collector has no per-request "
                         "latency (/_test/latency); never reported at 127.0.0.1 speed only")
            print("  skipped: " + notes[-1], flush=True)
    finally:
        collector.stop()

    if notes:
        measures[0]["note"] = measures[0].get("note", "") + "; " + "; ".join(notes)
    if args.json:
        doc = {"language": "python", "versions": versions,
               "commands": ["bindings/python/bench.sh" + (" --quick" if args.quick else "")],
               "measures": measures}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
