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

    def ns(group, bench, name, goal=None, goal_value=None, headline=None):
        path = os.path.join(root, group, bench)
        if not os.path.isdir(path):
            return
        per_iter, median, _ = criterion_measure(root, group, bench)
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

    ns("caller", "on_flag_decision", "Rust core: on_flag_decision (exposure, with attributes)", "<= 300 ns", 300, "caller")
    ns("caller", "on_flag_decision_rollout_skipped", "Rust core: on_flag_decision (rollout, skipped)")
    ns("caller", "on_decision_json", "Rust core: on_decision (notification JSON)", "<= 2000 ns", 2000)
    rate("delivered", "gzip_batch_100", "Rust core: delivered to the local collector, gzip, batch 100", ">= 200,000 events/s", 200000, "throughput")
    rate("delivered", "gzip_batch_500", "Rust core: delivered to the local collector, gzip, batch 500", ">= 200,000 events/s", 200000)
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
                docs.append(doc)
            except json.JSONDecodeError as e:
                print(f"skipping {path}: {e}", file=sys.stderr)
    # One section per language; the core's summary before the outage run's.
    order = {"rust": 0, "go": 1, "java": 2, "ruby": 3}
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
    docs = merged
    mach = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# flagwire benchmarks",
        "",
        f"Generated by `scripts/bench-all.sh` on {now}. Every figure below comes from that one run on this",
        "machine; flagwire and its peer ran in the same process or script, against the same local",
        "collector, so the ratios are taken within one run. Medians, with the spread (min–max over the",
        "measured samples) in brackets.",
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
