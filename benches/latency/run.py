#!/usr/bin/env python3
"""Runs the latency benchmark (benches/latency/README.md) and writes its summary JSON.

  run.py --collector target/release/flagwire-collector --out target/bench/latency.json \
         --lib flagwire=CMD... --lib analytics-go=CMD... [--version NAME=V]... [--unavailable NAME=WHY]...

Each --lib is a harness command line (split on spaces); the runner appends URL SECS RATE. One
collector serves the whole run; its per-request latency is switched over HTTP between runs.
Runs are interleaved (rep -> latency -> library) so that every library sees the same machine.

Env: LATENCY_SECS (4) offering window, LATENCY_RATE (200000) offered events/s, LATENCY_REPS (3),
LATENCY_LIST ("0,20,50,200") per-request latencies in ms, LATENCY_DRAIN_SECS (6) how long after
the window the collector may take to hold everything before the run is capped,
LATENCY_BUDGET (200) the request budget the goal is checked against.
Standard library only.
"""
import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_num(name, default, kind=float):
    try:
        return kind(os.environ.get(name, default))
    except ValueError:
        sys.exit(f"{name} must be a number")


class Collector:
    """The project's test collector, started once for the run."""

    def __init__(self, binary, write_key):
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--quiet", "--write-key", write_key],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            self.proc.kill()
            sys.exit(f"the collector did not start (first line {line!r})")
        self.url = line

    def call(self, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def idle(self, limit=10.0):
        """Waits (bounded) until no Segment request is being handled."""
        end = time.monotonic() + limit
        while self.call("/_test/count")["in_flight"] and time.monotonic() < end:
            time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Harness:
    """One harness process: its stdout read line by line without blocking the runner, its peak
    RSS read from /proc while it is alive (it waits for stdin to close after its close report).
    ru_maxrss from wait4 is not used: Linux carries the forking runner's own RSS into it."""

    def __init__(self, cmd, log):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        self.buf = b""
        self.hwm_kb = 0
        self.rusage = None
        self.waited_s = None

    def line(self, timeout):
        """The next stdout line (str), or None after `timeout` seconds or at end of output."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = max(0.0, end - time.monotonic())
            if not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        head, self.buf = self.buf.split(b"\n", 1)
        return head.decode(errors="replace")

    def sample_rss(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for l in f:
                    if l.startswith("VmHWM:"):
                        self.hwm_kb = max(self.hwm_kb, int(l.split()[1]))
        except (OSError, ValueError):
            pass

    def run_delay(self):
        """Seconds the harness's live threads spent runnable but waiting for a CPU
        (/proc/PID/task/*/schedstat, second field): on a shared machine, what the load took."""
        total = 0
        try:
            tasks = os.listdir(f"/proc/{self.proc.pid}/task")
        except OSError:
            return None
        for t in tasks:
            try:
                with open(f"/proc/{self.proc.pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, ValueError, IndexError):
                pass
        return total / 1e9

    def finish(self, grace):
        """Reads the peak RSS and run delay, lets the harness exit (killing it after `grace` s)
        and reaps it."""
        self.sample_rss()
        self.waited_s = self.run_delay()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        end = time.monotonic() + grace
        while True:
            got, _, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if got == self.proc.pid:
                break
            if time.monotonic() >= end:
                self.proc.kill()
                _, _, ru = os.wait4(self.proc.pid, 0)
                break
            time.sleep(0.02)
        self.proc.returncode = 0  # reaped here; keeps Popen from waiting again
        self.rusage = ru


def parse(line):
    try:
        doc = json.loads(line)
    except (TypeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def run_once(col, lib, cmd, latency_ms, secs, rate, drain, logdir):
    col.idle()
    col.call("/_test/reset", {})
    col.call("/_test/latency", {"latency_ms": latency_ms})
    cpu0 = col.cpu_seconds()
    log = open(os.path.join(logdir, f"{lib}-{latency_ms}ms.stderr"), "w")
    h = Harness(cmd + [col.url, str(secs), str(rate)], log)
    # The JVM and the Python interpreter take a moment to start: the window starts at the first offer.
    line = h.line(secs + 60)
    offer = parse(line)
    if offer.get("phase") != "offered":
        h.finish(0)
        raise RuntimeError(f"{lib}: no offer report (got {line!r}; stderr: {log.name})")
    first = offer["first_offer_ms"] / 1000.0
    cap_at = first + secs + drain
    target = offer["accepted"]
    count, last_change, closed, capped = 0, time.time(), None, False
    while True:
        left_ms = int((cap_at - time.time()) * 1000)
        if left_ms <= 0:
            capped, done_at = True, cap_at
            break
        r = col.call(f"/_test/wait?count={target}&timeout_ms={min(100, left_ms)}")
        now = time.time()
        if r["count"] != count:
            count, last_change = r["count"], now
        if r["ok"]:
            done_at = now
            break
        h.sample_rss()
        if closed is not None:
            # The library has closed: every request it made was answered, so nothing more comes
            # (one more look above made sure); the rest was dropped by the library.
            done_at = last_change
            break
        got = h.line(0)
        if got is not None:
            closed = parse(got)
    # Let the harness finish its close report (past the cap it is killed: an unbounded backlog
    # drains at the rate just measured).
    if closed is None:
        closed = parse(h.line(max(0.0, cap_at - time.time()) + 2))
    h.finish(5 if closed else 0)
    log.close()
    col.idle()
    cpu1 = col.cpu_seconds()
    requests = [q for q in col.call("/_test/requests", timeout=120)["requests"] if q["received_at_ms"] / 1000.0 <= done_at]
    stamps = sorted(q["received_at_ms"] for q in requests)
    peak, j = 0, 0
    for i, t in enumerate(stamps):  # most requests received within any 1,000 ms
        while stamps[j] <= t - 1000:
            j += 1
        peak = max(peak, i - j + 1)
    elapsed = max(done_at - first, 0.001)
    ru = h.rusage
    return {
        "library": lib, "latency_ms": latency_ms, "elapsed_s": round(elapsed, 3), "capped": capped,
        "offered": offer["offered"], "accepted": offer["accepted"], "refused": offer["refused"],
        "delivered": count, "events_per_s": count / elapsed,
        "dropped_after_accept": closed.get("failed"),
        "undelivered_at_end": max(0, target - count),
        "requests": len(requests), "requests_per_s": len(requests) / elapsed, "peak_requests_1s": peak,
        "events_per_request": count / len(requests) if requests else 0,
        "decoded_bytes_per_request": statistics.mean(q["decoded_bytes"] for q in requests) if requests else 0,
        "non_2xx": sum(1 for q in requests if not 200 <= q["status"] < 300),
        "max_concurrent": col.call("/_test/count")["max_concurrent"],
        "peak_rss_mib": h.hwm_kb / 1024.0,
        "sender_cpu_s": ru.ru_utime + ru.ru_stime,
        "sender_waiting_for_cpu_s": h.waited_s,
        "collector_cpu_s": cpu1 - cpu0,
    }


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "samples": len(values)}


def summarize(runs, libs, latencies, budget, versions, unavailable, commands, settings):
    grid = []
    for lat in latencies:
        for lib in libs:
            rs = [r for r in runs if r["library"] == lib and r["latency_ms"] == lat]
            if not rs:
                continue
            med = lambda k: statistics.median(r[k] for r in rs)
            grid.append({
                "library": lib, "latency_ms": lat,
                "events_per_s": spread([r["events_per_s"] for r in rs]),
                "requests_per_s": spread([r["requests_per_s"] for r in rs]),
                "peak_requests_1s": max(r["peak_requests_1s"] for r in rs),
                "peak_rss_mib": spread([r["peak_rss_mib"] for r in rs]),
                "offered": med("offered"), "accepted": med("accepted"), "refused": med("refused"),
                "undelivered_at_end": med("undelivered_at_end"), "capped": sum(r["capped"] for r in rs),
                "dropped_after_accept": statistics.median(r["dropped_after_accept"] or 0 for r in rs),
                "events_per_request": med("events_per_request"),
                "decoded_bytes_per_request": med("decoded_bytes_per_request"),
                "max_concurrent": max(r["max_concurrent"] for r in rs),
                "sender_cpu_s": med("sender_cpu_s"), "collector_cpu_s": med("collector_cpu_s"),
                "sender_waiting_for_cpu_s": statistics.median(r["sender_waiting_for_cpu_s"] or 0 for r in rs),
                "elapsed_s": med("elapsed_s"), "non_2xx": sum(r["non_2xx"] for r in rs),
            })
    measures = []
    fw = libs[0]
    for lat in latencies:
        cells = {g["library"]: g for g in grid if g["latency_ms"] == lat}
        if fw not in cells:
            continue
        peers = [g for name, g in cells.items() if name != fw]
        best = max(peers, key=lambda g: g["events_per_s"]["median"], default=None)
        m = {
            "name": f"delivered events/s at {lat} ms per request (defaults)", "unit": "events/s", "better": "higher",
            "flagwire": cells[fw]["events_per_s"],
            "peer": dict(best["events_per_s"], name=best["library"]) if best else None,
            "goal": "> every Segment library", "goal_kind": "vs_peer",
        }
        if lat == 50:
            m.update(goal=">= 100,000 events/s and > every Segment library", goal_value=100_000, goal_kind="absolute")
        measures.append(m)
        measures.append({
            "name": f"flagwire requests/s at {lat} ms (most in any 1 s: {cells[fw]['peak_requests_1s']})",
            "unit": "requests/s", "better": "lower", "flagwire": cells[fw]["requests_per_s"],
            "goal": f"<= {budget} (max_requests_per_second)", "goal_value": budget, "goal_kind": "absolute",
        })
    return {
        "language": "latency", "versions": versions, "commands": commands, "measures": measures,
        "grid": grid, "runs": runs, "libraries": libs, "latencies_ms": latencies, "unavailable": unavailable,
        "settings": settings,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--collector", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lib", action="append", default=[], help="NAME=COMMAND (first is flagwire)")
    ap.add_argument("--version", action="append", default=[], help="NAME=VERSION")
    ap.add_argument("--unavailable", action="append", default=[], help="NAME=WHY")
    ap.add_argument("--command", action="append", default=[])
    a = ap.parse_args()
    secs = env_num("LATENCY_SECS", 4)
    rate = env_num("LATENCY_RATE", 200_000, int)
    reps = env_num("LATENCY_REPS", 3, int)
    drain = env_num("LATENCY_DRAIN_SECS", 6)
    budget = env_num("LATENCY_BUDGET", 200, int)
    latencies = [int(x) for x in os.environ.get("LATENCY_LIST", "0,20,50,200").split(",") if x.strip()]
    libs = [(n, c.split()) for n, c in (s.split("=", 1) for s in a.lib)]
    logdir = os.path.join(os.path.dirname(os.path.abspath(a.out)), "latency-logs")
    os.makedirs(logdir, exist_ok=True)
    key = os.environ.get("LATENCY_WRITE_KEY", "latency-bench")
    os.environ["LATENCY_WRITE_KEY"] = key
    col = Collector(a.collector, key)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the collector on the way out
    runs = []
    load = [os.getloadavg()]
    started = time.time()
    try:
        for rep in range(reps):
            for lat in latencies:
                for name, cmd in libs:
                    r = run_once(col, name, cmd, lat, secs, rate, drain, logdir)
                    r["rep"] = rep
                    runs.append(r)
                    print(f"  rep {rep + 1}/{reps} {lat:>4} ms {name:<18} {r['events_per_s']:>10,.0f} events/s "
                          f"{r['requests_per_s']:>7.1f} req/s (peak 1 s {r['peak_requests_1s']:>4}) "
                          f"{r['events_per_request']:>7.0f} ev/req  RSS {r['peak_rss_mib']:>7.1f} MiB  "
                          f"offered {r['offered']:>9,} refused {r['refused']:>9,} undelivered {r['undelivered_at_end']:>9,}"
                          f"{'  CAPPED' if r['capped'] else ''}  cpu sender {r['sender_cpu_s']:.1f}s (+{r['sender_waiting_for_cpu_s'] or 0:.1f}s waiting) collector {r['collector_cpu_s']:.1f}s",
                          flush=True)
            load.append(os.getloadavg())
    finally:
        col.stop()
    settings = {
        "secs": secs, "rate": rate, "reps": reps, "drain_secs": drain, "budget": budget,
        "wall_s": round(time.time() - started, 1), "loadavg": [round(l[0], 2) for l in load],
        "cores": os.cpu_count(),
        # Set only for an analysis run; the benchmark measures the defaults.
        "flagwire_config_overrides": os.environ.get("LATENCY_FLAGWIRE_CONFIG"),
    }
    doc = summarize(runs, [n for n, _ in libs], latencies, budget, dict(v.split("=", 1) for v in a.version),
                    dict(u.split("=", 1) for u in a.unavailable), a.command, settings)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"wrote {a.out} ({settings['wall_s']} s; 1-min load average at the start and after each rep: {settings['loadavg']})")


if __name__ == "__main__":
    main()
