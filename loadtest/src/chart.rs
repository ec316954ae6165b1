//! An SVG chart of delivery latency over a run (p50, p99, max per second).

use crate::report::TimelinePoint;
use std::fmt::Write;

const W: f64 = 800.0;
const H: f64 = 400.0;
const PAD: f64 = 50.0;

/// The chart as an SVG document (empty axes when there is no data).
pub fn svg(title: &str, points: &[TimelinePoint]) -> String {
    let max_s = points.iter().map(|p| p.second).max().unwrap_or(1).max(1) as f64;
    let max_ms = points
        .iter()
        .map(|p| p.latency.max_ms)
        .fold(1.0_f64, f64::max);
    let x = |s: u64| PAD + (s as f64 / max_s) * (W - 2.0 * PAD);
    let y = |ms: f64| H - PAD - (ms / max_ms) * (H - 2.0 * PAD);
    let line = |f: &dyn Fn(&TimelinePoint) -> f64| {
        points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.second), y(f(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{PAD}" y="20" font-size="14">{title}: delivery latency per second (ms)</text>
<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/>
<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{b}" stroke="black"/>
<text x="{PAD}" y="{lx}">0 s</text><text x="{r}" y="{lx}" text-anchor="end">{max_s:.0} s</text>
<text x="{tx}" y="{b}" text-anchor="end">0</text><text x="{tx}" y="{PAD}" text-anchor="end">{max_ms:.1}</text>
<polyline fill="none" stroke="#bbbbbb" stroke-width="1" points="{pmax}"/>
<polyline fill="none" stroke="#d62728" stroke-width="2" points="{p99}"/>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{p50}"/>
<text x="{r}" y="40" text-anchor="end"><tspan fill="#1f77b4">p50</tspan> <tspan fill="#d62728">p99</tspan> <tspan fill="#999999">max</tspan></text>
</svg>
"##,
        b = H - PAD,
        r = W - PAD,
        lx = H - PAD + 18.0,
        tx = PAD - 6.0,
        pmax = line(&|p| p.latency.max_ms),
        p99 = line(&|p| p.latency.p99_ms),
        p50 = line(&|p| p.latency.p50_ms),
    );
    out
}
