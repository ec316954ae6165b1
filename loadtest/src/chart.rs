//! An SVG chart of a run, second by second: delivery latency (p50, p99,
//! max) above, the machine's busy share and the server's CPU below, with a
//! mark on each second in which the timeline store flushed or compacted
//! (when its gauges were scraped).

use crate::report::Report;
use crate::seconds::SecondSample;
use std::fmt::Write;

const W: f64 = 800.0;
const TOP_H: f64 = 300.0;
const BOTTOM_H: f64 = 130.0;
const PAD: f64 = 50.0;
/// The latency goal drawn as a dashed line when it is in range.
const P99_GOAL_MS: f64 = 20.0;

/// The chart as an SVG document (empty axes when there is no data).
pub fn svg(report: &Report) -> String {
    let points = &report.timeline;
    let max_s = points
        .iter()
        .map(|p| p.second)
        .chain(report.seconds.iter().map(|s| s.second))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let max_ms = points
        .iter()
        .map(|p| p.latency.max_ms)
        .fold(1.0_f64, f64::max);
    let x = |s: f64| PAD + (s / max_s) * (W - 2.0 * PAD);
    let top_bottom = PAD + TOP_H;
    let y = |ms: f64| top_bottom - (ms / max_ms) * TOP_H;
    let poly = |f: &dyn Fn(usize) -> Option<(f64, f64)>, n: usize| {
        (0..n)
            .filter_map(f)
            .map(|(s, v)| format!("{:.1},{:.1}", x(s), v))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let lat = |pick: fn(&crate::report::Latency) -> f64| {
        poly(
            &|i| {
                let p = &points[i];
                Some((p.second as f64 + 0.5, y(pick(&p.latency))))
            },
            points.len(),
        )
    };
    let b_top = top_bottom + 40.0;
    let b_bottom = b_top + BOTTOM_H;
    // Busy share and server CPU both on 0..200 (% of one core; two cores).
    let yb = |pct: f64| b_bottom - (pct.clamp(0.0, 200.0) / 200.0) * BOTTOM_H;
    let secs = &report.seconds;
    let busy = poly(
        &|i| {
            let s = &secs[i];
            Some((s.second as f64 + 0.5, yb(2.0 * s.machine_busy_percent)))
        },
        secs.len(),
    );
    let server = poly(
        &|i| {
            let s = &secs[i];
            Some((s.second as f64 + 0.5, yb(s.server_cpu_percent)))
        },
        secs.len(),
    );
    let h = b_bottom + 30.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{PAD}" y="20" font-size="14">{title}</text>
<line x1="{PAD}" y1="{top_bottom}" x2="{r}" y2="{top_bottom}" stroke="black"/>
<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{top_bottom}" stroke="black"/>
<text x="{tx}" y="{top_bottom}" text-anchor="end">0</text><text x="{tx}" y="{PAD}" text-anchor="end">{max_ms:.0} ms</text>
"##,
        title = title(report),
        r = W - PAD,
        tx = PAD - 6.0,
    );
    for s in store_work_seconds(secs) {
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{PAD}" width="{:.1}" height="{}" fill="#f2e6c9"/>"##,
            x(s as f64),
            x(1.0) - x(0.0),
            b_bottom - PAD,
        );
    }
    if P99_GOAL_MS < max_ms {
        let _ = writeln!(
            out,
            r##"<line x1="{PAD}" y1="{g:.1}" x2="{r}" y2="{g:.1}" stroke="#2ca02c" stroke-dasharray="4 4"/><text x="{r}" y="{gt:.1}" text-anchor="end" fill="#2ca02c">{P99_GOAL_MS} ms</text>"##,
            g = y(P99_GOAL_MS),
            gt = y(P99_GOAL_MS) - 3.0,
            r = W - PAD,
        );
    }
    let _ = write!(
        out,
        r##"<polyline fill="none" stroke="#bbbbbb" stroke-width="1" points="{pmax}"/>
<polyline fill="none" stroke="#d62728" stroke-width="2" points="{p99}"/>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{p50}"/>
<text x="{r}" y="40" text-anchor="end">delivery latency per second: <tspan fill="#1f77b4">p50</tspan> <tspan fill="#d62728">p99</tspan> <tspan fill="#999999">max</tspan></text>
<line x1="{PAD}" y1="{b_bottom}" x2="{r}" y2="{b_bottom}" stroke="black"/>
<line x1="{PAD}" y1="{b_top}" x2="{PAD}" y2="{b_bottom}" stroke="black"/>
<text x="{tx}" y="{b_bottom}" text-anchor="end">0</text><text x="{tx}" y="{b_top}" text-anchor="end">200%</text>
<polyline fill="none" stroke="#7f7f7f" stroke-width="2" points="{busy}"/>
<polyline fill="none" stroke="#9467bd" stroke-width="2" points="{server}"/>
<text x="{r}" y="{bl}" text-anchor="end"><tspan fill="#7f7f7f">machine busy (both cores)</tspan> <tspan fill="#9467bd">server CPU</tspan> <tspan fill="#c8a24a">store flush/compaction</tspan></text>
<text x="{PAD}" y="{xl}">0 s</text><text x="{r}" y="{xl}" text-anchor="end">{max_s:.0} s</text>
</svg>
"##,
        r = W - PAD,
        tx = PAD - 6.0,
        pmax = lat(|l| l.max_ms),
        p99 = lat(|l| l.p99_ms),
        p50 = lat(|l| l.p50_ms),
        bl = b_top - 4.0,
        xl = b_bottom + 16.0,
    );
    out
}

fn title(r: &Report) -> String {
    format!(
        "{}: {:.0} deliveries/s, p99 {:.1} ms, p99.9 {:.1} ms, machine {:.0}% busy, lost {}",
        r.scenario,
        r.deliveries_per_sec,
        r.delivery_latency.p99_ms,
        r.delivery_latency.p999_ms,
        r.machine_busy_percent,
        r.lost
    )
}

/// Seconds in which the store wrote tables (a flush or a compaction
/// changes the table count) or finished a compaction.
fn store_work_seconds(secs: &[SecondSample]) -> Vec<u64> {
    let tables = |s: &SecondSample| -> f64 {
        s.metrics
            .iter()
            .filter(|(k, _)| k.starts_with("parley_timeline_tables"))
            .map(|(_, v)| v)
            .sum()
    };
    let compactions = |s: &SecondSample| {
        s.metrics
            .get("parley_timeline_compactions_completed")
            .copied()
            .unwrap_or(0.0)
    };
    secs.windows(2)
        .filter(|w| {
            !w[1].metrics.is_empty()
                && (tables(&w[1]) != tables(&w[0]) || compactions(&w[1]) > compactions(&w[0]))
        })
        .map(|w| w[1].second)
        .collect()
}
