#!/usr/bin/env python3
"""Summarizes a sweep (loadtest/scripts/sweep.sh): a Markdown table with one
row per run, whether each rate met the latency goal in every run, and one SVG
chart per rate with every run's per-second p99 and the machine's busy share.

    python3 loadtest/scripts/sweep-report.py OUT [--charts DIR] [--title TEXT]
"""
import argparse
import json
import os

P99_GOAL_MS = 20.0
P999_GOAL_MS = 50.0
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def runs(out):
    for rate in sorted(os.listdir(out), key=lambda r: float(r) if r.replace(".", "").isdigit() else 0):
        path = os.path.join(out, rate)
        if not os.path.isdir(path) or not rate.replace(".", "").isdigit():
            continue
        reports = []
        for run in sorted(os.listdir(path), key=lambda r: int(r) if r.isdigit() else 0):
            f = os.path.join(path, run, "report.json")
            if os.path.exists(f):
                with open(f) as fh:
                    reports.append((run, json.load(fh)))
        yield rate, reports


def measured(report):
    warm = 3
    return [s for s in report["seconds"] if s["second"] >= warm]


def server_cpu(report):
    secs = measured(report)
    return sum(s["server_cpu_percent"] for s in secs) / max(1, len(secs))


def rss_mib(report):
    secs = report["seconds"]
    return (secs[0]["server_rss_kb"] / 1024, max(s["server_rss_kb"] for s in secs) / 1024) if secs else (0, 0)


def target(rate, reports):
    """Deliveries per second the rate asks for (each publish reaches the
    group's other members and the sender's other devices)."""
    return float(rate) * reports[0][1].get("fanout", 10)


def flushes(seconds):
    """Seconds in which the timeline store's memtables shrank by over 1 MB
    (a memtable was flushed to a table)."""
    out, prev = [], None
    for s in seconds:
        mb = s.get("metrics", {}).get("parley_timeline_memtable_bytes")
        if mb is not None and prev is not None and mb < prev - 1e6:
            out.append(s["second"])
        prev = mb if mb is not None else prev
    return out


def stall_seconds(reports):
    """Where the slow seconds were: of the measured seconds whose p99 was
    over the goal, how many were next to a memtable flush (the second its
    memtable was seen smaller, or the one before, when the flush ran), how
    large a share of all seconds is next to a flush (the base rate to
    compare with), and the largest batch-run and commit peaks next to
    flushes and elsewhere."""
    slow = at_flush = seconds = flush_seconds = 0
    peaks = {True: [0.0, 0.0], False: [0.0, 0.0]}
    for _, r in reports:
        by_second = {s["second"]: s for s in r["seconds"]}
        marks = set(flushes(r["seconds"]))
        near = marks | {f - 1 for f in marks}
        for s in measured(r):
            m = s.get("metrics", {})
            flush = s["second"] in near
            peaks[flush][0] = max(peaks[flush][0], m.get("parley_timeline_run_peak_seconds", 0) * 1e3)
            peaks[flush][1] = max(peaks[flush][1], m.get("parley_timeline_commit_peak_seconds", 0) * 1e3)
        for p in r["timeline"]:
            if p["second"] < 3 or p["second"] not in by_second:
                continue
            seconds += 1
            flush_seconds += p["second"] in near
            if p["latency"]["p99_ms"] > P99_GOAL_MS:
                slow += 1
                at_flush += p["second"] in near
    return slow, at_flush, 100 * flush_seconds / max(1, seconds), peaks


def chart(rate, reports, title):
    w, h_top, h_bot, pad = 800, 260, 110, 50
    series = [(run, r["timeline"], r["seconds"]) for run, r in reports]
    max_s = max([p["second"] for _, t, _ in series for p in t] + [1])
    max_ms = max([p["latency"]["p99_ms"] for _, t, _ in series for p in t] + [P99_GOAL_MS * 1.5])
    x = lambda s: pad + (s / max_s) * (w - 2 * pad)
    y = lambda ms: pad + h_top - (min(ms, max_ms) / max_ms) * h_top
    b_top = pad + h_top + 40
    yb = lambda pct: b_top + h_bot - (pct / 100) * h_bot
    height = b_top + h_bot + 30
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{pad}" y="20" font-size="14">{title}: {target(rate, reports):,.0f} deliveries/s, p99 per second, one line per run (ticks: memtable flushes)</text>',
         f'<line x1="{pad}" y1="{pad + h_top}" x2="{w - pad}" y2="{pad + h_top}" stroke="black"/>',
         f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{pad + h_top}" stroke="black"/>',
         f'<text x="{pad - 6}" y="{pad + h_top}" text-anchor="end">0</text>',
         f'<text x="{pad - 6}" y="{pad + 4}" text-anchor="end">{max_ms:.0f} ms</text>',
         f'<line x1="{pad}" y1="{y(P99_GOAL_MS):.1f}" x2="{w - pad}" y2="{y(P99_GOAL_MS):.1f}" stroke="#555" stroke-dasharray="4 4"/>',
         f'<text x="{w - pad}" y="{y(P99_GOAL_MS) - 3:.1f}" text-anchor="end" fill="#555">{P99_GOAL_MS:.0f} ms</text>',
         f'<line x1="{pad}" y1="{b_top + h_bot}" x2="{w - pad}" y2="{b_top + h_bot}" stroke="black"/>',
         f'<line x1="{pad}" y1="{b_top}" x2="{pad}" y2="{b_top + h_bot}" stroke="black"/>',
         f'<text x="{pad - 6}" y="{b_top + h_bot}" text-anchor="end">0</text>',
         f'<text x="{pad - 6}" y="{b_top + 4}" text-anchor="end">100%</text>',
         f'<text x="{pad}" y="{b_top - 6}">machine busy (both cores, loader included)</text>',
         f'<text x="{pad}" y="{b_top + h_bot + 18}">0 s</text>',
         f'<text x="{w - pad}" y="{b_top + h_bot + 18}" text-anchor="end">{max_s} s</text>']
    for i, (run, timeline, seconds) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        pts = " ".join(f'{x(p["second"] + 0.5):.1f},{y(p["latency"]["p99_ms"]):.1f}' for p in timeline)
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{pts}"/>')
        pts = " ".join(f'{x(s["second"] + 0.5):.1f},{yb(s["machine_busy_percent"]):.1f}' for s in seconds)
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="1" points="{pts}"/>')
        o.append(f'<text x="{w - pad - 60 * (len(series) - i)}" y="40" fill="{c}">run {run}</text>')
        for f in flushes(seconds):
            o.append(f'<line x1="{x(f + 0.5):.1f}" y1="{pad + h_top - 8 - 3 * i}" x2="{x(f + 0.5):.1f}" y2="{pad + h_top - 3 * i}" stroke="{c}" stroke-width="2"/>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main():
    a = argparse.ArgumentParser()
    a.add_argument("out")
    a.add_argument("--charts")
    a.add_argument("--title", default="parley up")
    a.add_argument("--name", default="sweep", help="chart files are NAME-RATE.svg")
    args = a.parse_args()
    print("| publishes/s | run | deliveries/s | machine busy | server CPU | delivery p50 / p99 / p99.9 / max (ms) | lost / dup | RSS start -> peak (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    verdicts = []
    for rate, reports in runs(args.out):
        if not reports:
            continue
        met = 0
        for run, r in reports:
            d = r["delivery_latency"]
            ok = d["p99_ms"] <= P99_GOAL_MS and d["p999_ms"] <= P999_GOAL_MS and r["lost"] == 0 and r["duplicates"] == 0
            met += ok
            start, peak = rss_mib(r)
            print(f'| {float(rate):,.0f} | {run} | {r["deliveries_per_sec"]:,.0f} | {r["machine_busy_percent"]:.0f}% | {server_cpu(r):.0f}% '
                  f'| {d["p50_ms"]:.1f} / {d["p99_ms"]:.1f} / {d["p999_ms"]:.1f} / {d["max_ms"]:.0f} | {r["lost"]} / {r["duplicates"]} | {start:.0f} -> {peak:.0f} |')
        busy = sum(r["machine_busy_percent"] for _, r in reports) / max(1, len(reports))
        verdicts.append((target(rate, reports), met, len(reports), busy, stall_seconds(reports)))
        if args.charts and reports:
            os.makedirs(args.charts, exist_ok=True)
            with open(os.path.join(args.charts, f"{args.name}-{rate}.svg"), "w") as fh:
                fh.write(chart(rate, reports, args.title))
    print()
    for deliveries, met, n, busy, (slow, at_flush, base, peaks) in verdicts:
        print(f"- {deliveries:,.0f} deliveries/s (machine {busy:.0f}% busy on average): p99 <= {P99_GOAL_MS:.0f} ms and p99.9 <= {P999_GOAL_MS:.0f} ms in {met} of {n} runs; "
              f"{slow} seconds with p99 over {P99_GOAL_MS:.0f} ms, {at_flush} of them next to a memtable flush ({base:.0f}% of all seconds are); "
              f"slowest batch run / commit next to flushes {peaks[True][0]:.1f} / {peaks[True][1]:.1f} ms, elsewhere {peaks[False][0]:.1f} / {peaks[False][1]:.1f} ms")


if __name__ == "__main__":
    main()
