//! What the machine and the server did in each second of a run: the whole
//! machine's busy share (the loader shares it), the server processes' CPU
//! and RSS, and (optionally) gauges scraped from the servers' /metrics, so
//! a latency spike can be read next to what happened in the same second.

use crate::procstat::{TICKS, cpu_ticks, machine_ticks, total_rss_kb};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One second of a run, numbered like the latency timeline.
#[derive(Debug, Clone, Serialize)]
pub struct SecondSample {
    pub second: u64,
    /// Share of all CPUs of the machine that was busy (not idle or iowait).
    pub machine_busy_percent: f64,
    /// CPU of the server processes together, in % of one core.
    pub server_cpu_percent: f64,
    pub server_rss_kb: u64,
    /// Scraped series (name with labels; `@host:port` added when several
    /// servers are scraped) whose names start with a watched prefix.
    pub metrics: BTreeMap<String, f64>,
}

/// What to sample.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    pub server_pids: Vec<u32>,
    /// Prometheus text endpoints (`http://host:port/metrics`).
    pub metrics_urls: Vec<String>,
    /// Series name prefixes to keep, e.g. `parley_timeline_`.
    pub metric_prefixes: Vec<String>,
}

/// Samples once a second from `t0` until `stop` fires; returns the samples.
pub(crate) fn spawn(
    t0: Instant,
    watch: Watch,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Vec<SecondSample>>,
) {
    let (stop_tx, mut stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(800))
            .build()
            .ok();
        let mut out = Vec::new();
        let mut prev = Point::now(&watch.server_pids);
        let mut tick =
            tokio::time::interval_at((t0 + Duration::from_secs(1)).into(), Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => {}
            }
            let cur = Point::now(&watch.server_pids);
            let mut s = cur.since(&prev, t0);
            prev = cur;
            if let Some(http) = &http {
                s.metrics = scrape(http, &watch).await;
            }
            out.push(s);
        }
        out
    });
    (stop_tx, task)
}

struct Point {
    at: Instant,
    machine_busy: u64,
    machine_all: u64,
    server_ticks: u64,
    rss_kb: u64,
}

impl Point {
    fn now(pids: &[u32]) -> Self {
        let (machine_busy, machine_all) = machine_ticks().unwrap_or((0, 0));
        Self {
            at: Instant::now(),
            machine_busy,
            machine_all,
            server_ticks: pids.iter().filter_map(|p| cpu_ticks(*p)).sum(),
            rss_kb: total_rss_kb(pids),
        }
    }

    fn since(&self, prev: &Point, t0: Instant) -> SecondSample {
        let secs = (self.at - prev.at).as_secs_f64().max(0.001);
        let all = self.machine_all.saturating_sub(prev.machine_all).max(1) as f64;
        SecondSample {
            // The second that just ended, on the latency timeline's clock.
            second: (self.at - t0).as_secs().saturating_sub(1),
            machine_busy_percent: 100.0
                * self.machine_busy.saturating_sub(prev.machine_busy) as f64
                / all,
            server_cpu_percent: 100.0 * self.server_ticks.saturating_sub(prev.server_ticks) as f64
                / TICKS
                / secs,
            server_rss_kb: self.rss_kb,
            metrics: BTreeMap::new(),
        }
    }
}

async fn scrape(http: &reqwest::Client, watch: &Watch) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if watch.metric_prefixes.is_empty() {
        return out;
    }
    let tag = watch.metrics_urls.len() > 1;
    for url in &watch.metrics_urls {
        let Ok(resp) = http.get(url).send().await else {
            continue;
        };
        let Ok(text) = resp.text().await else {
            continue;
        };
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or(url);
        for (name, value) in parse_prometheus(&text, &watch.metric_prefixes) {
            let key = if tag { format!("{name}@{host}") } else { name };
            out.insert(key, value);
        }
    }
    out
}

/// Series of the Prometheus text format whose names start with a prefix.
pub(crate) fn parse_prometheus(text: &str, prefixes: &[String]) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p.as_str())))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_watched_series_only() {
        let text = "# TYPE parley_timeline_tables gauge\n\
                    parley_timeline_tables{keyspace=\"events\"} 12\n\
                    parley_timeline_memtable_bytes 1048576\n\
                    parley_gateway_connections 3\n\
                    parley_timeline_broken x\n";
        let got = parse_prometheus(text, &["parley_timeline_".to_string()]);
        assert_eq!(
            got,
            vec![
                (
                    "parley_timeline_tables{keyspace=\"events\"}".to_string(),
                    12.0
                ),
                ("parley_timeline_memtable_bytes".to_string(), 1_048_576.0),
            ]
        );
    }
}
