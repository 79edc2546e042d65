#!/usr/bin/env python3
"""Benchmark summaries -> BENCHMARKS.md and a chart.

  bench_report.py criterion target/criterion OUT.json   # Rust criterion results -> summary JSON
  bench_report.py report target/bench BENCHMARKS.md docs/benchmarks.svg

Every part of the run writes one summary JSON (the contract each bench.sh follows when
FLAGWIRE_BENCH_JSON is set):

  {"language": "go", "versions": {"analytics-go": "v3.3.0", ...}, "commands": ["..."],
   "measures": [{"name": "...", "unit": "ns/op", "better": "lower"|"higher",
                 "goal": "text", "goal_value": 300, "goal_kind": "absolute"|"vs_peer",
                 "headline": "caller"|"throughput"|"decide" (optional),
                 "flagwire": {"median": x, "min": x, "max": x, "samples": [...]},
                 "peer": {"name": "analytics-go", "median": x, "min": x, "max": x} | null,
                 "note": "..."}]}
"""
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys


def criterion_measure(root, group, bench):
    base = os.path.join(root, group, bench, "new")
    with open(os.path.join(base, "estimates.json")) as f:
        est = json.load(f)
    with open(os.path.join(base, "sample.json")) as f:
        sample = json.load(f)
    with open(os.path.join(base, "benchmark.json")) as f:
        meta = json.load(f)
    per_iter = [t / i for t, i in zip(sample["times"], sample["iters"])]
    elements = (meta.get("throughput") or {}).get("Elements")
    median = est["median"]["point_estimate"]
    return per_iter, median, elements


def stats(values, median=None):
    return {
        "median": median if median is not None else statistics.median(values),
        "min": min(values),
        "max": max(values),
        "samples": len(values),
    }


def from_criterion(root, out):
    measures = []

    def ns(group, bench, name, goal=None, goal_value=None, headline=None, per_element=False):
        path = os.path.join(root, group, bench)
        if not os.path.isdir(path):
            return
        per_iter, median, elements = criterion_measure(root, group, bench)
        if per_element:
            per_iter, median = [t / elements for t in per_iter], median / elements
        m = {"name": name, "unit": "ns", "better": "lower", "flagwire": stats(per_iter, median)}
        if goal:
            m.update(goal=goal, goal_value=goal_value, goal_kind="absolute")
        if headline:
            m["headline"] = headline
        measures.append(m)

    def rate(group, bench, name, goal=None, goal_value=None, headline=None):
        path = os.path.join(root, group, bench)
        if not os.path.isdir(path):
            return
        per_iter, median, elements = criterion_measure(root, group, bench)
        to_rate = lambda t: elements / (t / 1e9)
        rates = [to_rate(t) for t in per_iter]
        m = {"name": name, "unit": "events/s", "better": "higher", "flagwire": stats(rates, to_rate(median))}
        if goal:
            m.update(goal=goal, goal_value=goal_value, goal_kind="absolute")
        if headline:
            m["headline"] = headline
        measures.append(m)

    ns("caller", "decision_record", "Rust core: decision record, ABI 2 (exposure, with ids and attributes)", "<= 300 ns", 300, "caller")
    ns("caller", "decision_record_rollout_skipped", "Rust core: decision record, ABI 2 (rollout, skipped)")
    ns("caller", "on_flag_decision", "Rust core: on_flag_decision, deprecated ABI 1 (exposure, with attributes)", "<= 300 ns", 300)
    ns("caller", "on_flag_decision_rollout_skipped", "Rust core: on_flag_decision, deprecated ABI 1 (rollout, skipped)")
    ns("caller", "on_decision_json", "Rust core: whole notification as JSON", "<= 2000 ns", 2000)
    rate("delivered", "defaults_0ms", "Rust core: delivered with the defaults, 0 ms per request", None, None, "throughput")
    rate("delivered", "defaults_50ms", "Rust core: delivered with the defaults, 50 ms per request", ">= 100,000 events/s", 100000)
    ns("gzip", "batch_250_level_fast", "Rust core: gzip per event, one 250-event batch (sender thread)", per_element=True)
    ns("profile", "cached_attributes", "Rust core: Profile API cached lookup", "<= 1000 ns", 1000)
    ns("profile", "miss_attributes_404", "Rust core: Profile API miss (one local round trip)")
    doc = {
        "language": "rust",
        "commands": ["cargo bench --bench core"],
        "versions": {"rustc": sh(["rustc", "--version"])},
        "measures": measures,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip() or "?"
    except Exception:
        return "?"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "memory": mem, "kernel": platform.release()}


def fmt(v, unit):
    if v is None:
        return "–"
    if unit in ("events/s", "ops/s", "decides/s"):
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def verdict(m):
    f = m["flagwire"]["median"]
    kind = m.get("goal_kind", "absolute")
    lower = m.get("better", "lower") == "lower"
    if kind == "vs_peer" and m.get("peer"):
        p = m["peer"]["median"]
        ok = f <= p if lower else f >= p
    elif m.get("goal_value") is not None:
        g = m["goal_value"]
        ok = f <= g if lower else f >= g
    else:
        return ""
    return "met" if ok else "**not met**"


def report(directory, md_path, chart_path):
    docs = []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as f:
            try:
                doc = json.load(f)
                doc["_file"] = os.path.basename(path)
                doc["_mtime"] = os.path.getmtime(path)
                docs.append(doc)
            except json.JSONDecodeError as e:
                print(f"skipping {path}: {e}", file=sys.stderr)
    # One section per language; the core's summary before the outage run's.
    order = {"rust": 0, "dedupe": 1, "go": 2, "java": 3, "ruby": 4, "python": 5, "node": 6}
    docs.sort(key=lambda d: (order.get(d.get("language"), 9), d.get("_file") == "outage.json"))
    merged = []
    for d in docs:
        if merged and merged[-1].get("language") == d.get("language"):
            last = merged[-1]
            last["measures"] = last.get("measures", []) + d.get("measures", [])
            last.setdefault("versions", {}).update(d.get("versions", {}))
            last["commands"] = last.get("commands", []) + d.get("commands", [])
        else:
            merged.append(dict(d))
    # Parts rerun alone (BENCH_SKIP) are said to be: a reader must know which figures share a run.
    stamps = sorted((d["_mtime"], d["_file"][:-5]) for d in docs)
    spread_min = (stamps[-1][0] - stamps[0][0]) / 60 if stamps else 0
    hhmm = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M")
    parts_line = ("Parts, by when each finished (UTC): " + ", ".join(f"{name} {hhmm(t)}" for t, name in stamps)
                  + ("." if spread_min <= 90 else "; more than 90 minutes apart, so not one run."))
    docs = merged
    mach = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# flagwire benchmarks",
        "",
        f"Generated by `scripts/bench-all.sh` on {now} from each part's latest summary in target/bench/",
        "(a part can be rerun alone with BENCH_SKIP). Within a part, flagwire and its peer ran in the same",
        "process or script, against the same local collector, so every ratio is taken within one run.",
        "Medians, with the spread (min–max over the measured samples) in brackets.",
        "",
        parts_line,
        "",
        f"**Machine:** {mach['cores']} cores, {mach['cpu']}, {mach['memory']} RAM, Linux {mach['kernel']}.",
        "",
        "![flagwire vs Segment's libraries](docs/benchmarks.svg)",
        "",
    ]
    versions = {}
    commands = []
    for d in docs:
        versions.update(d.get("versions", {}))
        commands.extend(d.get("commands", []))
        lang = d.get("language", "?")
        if lang == "latency":  # its own section and chart (latency_section)
            lines += latency_section(d, os.path.join(os.path.dirname(chart_path), "latency.svg"))
            continue
        lines += [f"## {lang.capitalize()}", ""]
        lines += ["| measure | flagwire | peer | ratio (flagwire / peer) | goal | status |", "|---|---|---|---|---|---|"]
        for m in d.get("measures", []):
            unit = m.get("unit", "")
            f = m["flagwire"]
            fcell = f"{fmt(f['median'], unit)} {unit}"
            if f.get("min") is not None and f.get("max") is not None and f.get("min") != f.get("max"):
                fcell += f" [{fmt(f['min'], unit)}–{fmt(f['max'], unit)}]"
            p = m.get("peer")
            if p:
                pcell = f"{p.get('name', 'peer')}: {fmt(p['median'], unit)} {unit}"
                if p.get("min") is not None and p.get("max") is not None and p.get("min") != p.get("max"):
                    pcell += f" [{fmt(p['min'], unit)}–{fmt(p['max'], unit)}]"
                ratio = f"{f['median'] / p['median']:.2f}" if p["median"] else "–"
            else:
                pcell, ratio = "–", "–"
            lines.append(f"| {m['name']} | {fcell} | {pcell} | {ratio} | {m.get('goal', '')} | {verdict(m)} |")
        notes = [m for m in d.get("measures", []) if m.get("note")]
        if notes:
            lines.append("")
            for m in notes:
                lines.append(f"- {m['name']}: {m['note']}")
        lines.append("")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "perf-notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines += [f.read().strip(), ""]
    lines += ["## Versions", ""]
    for k, v in sorted(versions.items()):
        lines.append(f"- {k}: {v}")
    lines += ["", "## Commands", "", "```sh", "scripts/bench-all.sh    # everything below, then this report", *commands, "```", ""]
    with open(md_path, "w") as f:
        f.write("\n".join(lines))
    chart(docs, chart_path)


def latency_section(doc, chart_path):
    """"Delivery at internet latency" (benches/latency, scripts/bench-latency.sh): a table per
    latency x library, the goals of issue 11, and docs/latency.svg (delivered events/s vs
    latency, one line per library)."""
    grid = doc.get("grid", [])
    st = doc.get("settings", {})
    libs = doc.get("libraries", [])
    lats = doc.get("latencies_ms", [])
    budget = st.get("budget", 200)
    fw = libs[0] if libs else "flagwire"
    rel = os.path.relpath(chart_path, ".") if not os.path.isabs(chart_path) else chart_path
    lines = [
        "## Delivery at internet latency",
        "",
        f"`scripts/bench-latency.sh` (benches/latency/): one collector answers each request after a fixed delay; "
        f"each library runs with its defaults in its own process and language, offered {st.get('rate', 0):,} "
        f"\"Experiment Viewed\" events/s (same properties, 2 attributes) for {st.get('secs', '?')} s. Delivered = "
        "what the collector accepted, over the time from the first offer until it held everything the library "
        f"accepted, or {st.get('drain_secs', '?')} s after the window (*capped*: the rest was still queued). "
        f"{st.get('reps', '?')} repetition(s), interleaved; medians with [min–max] (the chart's error bars). flagwire is the Rust core "
        "through its C ABI (`flagwire_on_decision_record`). Peak RSS is the whole sending process's "
        f"(VmHWM: runtime, producer and library). {st.get('cores', '?')} cores shared by the sender, the collector and anything else "
        f"running: 1-minute load average {', '.join(str(x) for x in st.get('loadavg', []))} (start, after each "
        f"repetition); run took {st.get('wall_s', '?')} s.",
        "",
        f"![delivered events/s vs per-request latency]({rel})",
        "",
        "| latency | library | delivered events/s | requests/s (most in 1 s) | events / request | peak RSS | offered | refused at the call / failed after | left undelivered | sender CPU (+ runnable, waiting for a CPU) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in grid:
        e, r, m = g["events_per_s"], g["requests_per_s"], g["peak_rss_mib"]
        ev = f"{e['median']:,.0f} [{e['min']:,.0f}–{e['max']:,.0f}]"
        if g["library"] == fw:
            ev = f"**{ev}**"
        left = f"{g['undelivered_at_end']:,.0f}" + (f" (capped {g['capped']}×)" if g["capped"] else "")
        lines.append(
            f"| {g['latency_ms']} ms | {g['library']} | {ev} | {r['median']:.1f} ({g['peak_requests_1s']}) | "
            f"{g['events_per_request']:,.0f} | {m['median']:.1f} MiB | {g['offered']:,.0f} | "
            f"{g['refused']:,.0f} / {g.get('dropped_after_accept') or 0:,.0f} | "
            f"{left} | {g['sender_cpu_s']:.1f} s (+{g.get('sender_waiting_for_cpu_s') or 0:.1f} s) |"
        )
    lines.append("")
    for name, why in sorted(doc.get("unavailable", {}).items()):
        lines.append(f"- {name}: {why}.")
    lines += ["", "| goal (issue 11) | measured | status |", "|---|---|---|"]
    cell = {(g["library"], g["latency_ms"]): g for g in grid}
    if (fw, 50) in cell:
        v = cell[(fw, 50)]["events_per_s"]["median"]
        lines.append(f"| at 50 ms, >= 100,000 events/s with the defaults | {v:,.0f} events/s | {'met' if v >= 100_000 else '**not met**'} |")
    for lat in lats:
        if (fw, lat) not in cell:
            continue
        v = cell[(fw, lat)]["events_per_s"]["median"]
        peers = [(g["events_per_s"]["median"], g["library"]) for g in grid if g["latency_ms"] == lat and g["library"] != fw]
        if peers:
            best, name = max(peers)
            status = "met" if v > best else "**not met**"
            lo, hi = cell[(fw, lat)]["events_per_s"]["min"], cell[(name, lat)]["events_per_s"]["max"]
            if v > best and lo <= hi:
                status += f" (medians; the ranges overlap: flagwire's lowest {lo:,.0f}, {name}'s highest {hi:,.0f})"
            lines.append(f"| at {lat} ms, more than every Segment library | {v:,.0f} vs {name} {best:,.0f} ({v / best:.1f}×) | {status} |")
    peaks = [cell[(fw, lat)]["peak_requests_1s"] for lat in lats if (fw, lat) in cell]
    if peaks:
        worst = max(peaks)
        lines.append(f"| never above the request budget ({budget} requests/s) | most requests received by the collector in any 1,000 ms window: {worst} | {'met' if worst <= budget else '**not met**'} |")
    lines.append("")
    if st.get("flagwire_config_overrides"):
        lines += [f"flagwire ran with config overrides {st['flagwire_config_overrides']} (not the defaults).", ""]
    latency_chart(doc, chart_path)
    return lines


def latency_chart(doc, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = doc.get("grid", [])
    lats = doc.get("latencies_ms", [])
    if not grid or not lats:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = list(range(len(lats)))  # evenly spaced: 0 ms has no place on a log axis
    colors = ["#2b7bba", "#e08214", "#7b3294", "#1b9e77", "#999999"]
    for i, lib in enumerate(doc.get("libraries", [])):
        pts = [(xs[lats.index(g["latency_ms"])], g["events_per_s"]) for g in grid if g["library"] == lib]
        if not pts:
            continue
        x = [p[0] for p in pts]
        med = [p[1]["median"] for p in pts]
        lo = [p[1]["median"] - p[1]["min"] for p in pts]
        hi = [p[1]["max"] - p[1]["median"] for p in pts]
        ax.errorbar(x, med, yerr=[lo, hi], marker="o", capsize=3, lw=2.4 if i == 0 else 1.4,
                    color=colors[i % len(colors)], label=lib + (" (defaults)" if i == 0 else ""))
        for xi, m in zip(x, med):
            ax.annotate(f"{m:,.0f}", (xi, m), textcoords="offset points", xytext=(6, 4 if i % 2 == 0 else -11), fontsize=7,
                        color=colors[i % len(colors)])
    ax.axhline(100_000, ls="--", lw=1, color="#444444")
    ax.annotate("goal at 50 ms: 100,000 events/s", (0, 100_000), textcoords="offset points", xytext=(2, 4), fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{l} ms" for l in lats])
    ax.set_xlabel("per-request latency of the collector (evenly spaced)")
    ax.set_ylabel("delivered events/s (log scale)")
    ax.set_title("Delivered events/s at internet latency, each library with its defaults", fontsize=10)
    ax.grid(True, which="both", axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(os.path.splitext(path)[0] + ".png", dpi=110)


def chart(docs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    caller, decide, throughput = [], [], []
    for d in docs:
        for m in d.get("measures", []):
            h = m.get("headline")
            {"caller": caller, "decide": decide, "throughput": throughput}.get(h, []).append(m)
    panels = [
        (caller, "caller cost per decision, ns (lower is better)"),
        (decide, "decide() throughput with the listener attached (higher is better)"),
        (throughput, "delivered events/s (higher is better)"),
    ]
    panels = [(ms, title) for ms, title in panels if ms]
    if not panels:
        return
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(11, 1.0 + 0.85 * sum(max(1, len(ms)) for ms, _ in panels)),
        gridspec_kw={"height_ratios": [max(1, len(ms)) for ms, _ in panels]},
    )
    if len(panels) == 1:
        axes = [axes]
    for ax, (ms, title) in zip(axes, panels):
        labels, fw, peer = [], [], []
        for m in ms:
            labels.append(m["name"].replace("Rust core: ", "Rust: "))
            fw.append(m["flagwire"]["median"])
            peer.append(m["peer"]["median"] if m.get("peer") else 0)
        y = list(range(len(ms)))
        h = 0.38
        ax.barh([i - h / 2 for i in y], fw, h, label="flagwire", color="#2b7bba")
        if any(peer):
            ax.barh([i + h / 2 for i in y], peer, h, label="Segment library (peer)", color="#c9c9c9")
        for i, (a, b, m) in enumerate(zip(fw, peer, ms)):
            ax.text(a, i - h / 2, f" {fmt(a, m['unit'])} {m['unit']}", va="center", fontsize=8)
            if b:
                ax.text(b, i + h / 2, f" {fmt(b, m['unit'])} {m['unit']}", va="center", fontsize=8)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        top = max(fw + peer)
        if "decide()" in title:
            ax.set_xlim(0, top * 1.3)  # close values: a linear axis shows the ratio honestly
        else:
            ax.set_xscale("log")
            ax.set_xlim(right=top * 3)
    handles, names = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        h, n = ax.get_legend_handles_labels()
        if len(h) > len(handles):
            handles, names = h, n
    fig.legend(handles, names, loc="upper right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path)
    fig.savefig(os.path.splitext(path)[0] + ".png", dpi=110)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "criterion":
        from_criterion(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__)
        sys.exit(2)
