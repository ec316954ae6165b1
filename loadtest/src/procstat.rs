//! CPU and RSS of server processes, sampled from /proc.

use crate::report::ServerSample;
use std::time::Instant;

/// clock ticks per second (the usual Linux value; /proc/<pid>/stat is in ticks).
pub(crate) const TICKS: f64 = 100.0;

pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// (busy, all) clock ticks of every CPU since boot; idle and iowait are
/// not busy.
pub(crate) fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let all: u64 = fields.iter().sum();
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((all - idle, all))
}

/// RSS of all `pids` together.
pub(crate) fn total_rss_kb(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|p| rss_kb(*p)).sum()
}

pub(crate) struct Sampler {
    pids: Vec<u32>,
    start: Instant,
    start_ticks: Vec<Option<u64>>,
    max_rss: Vec<u64>,
}

impl Sampler {
    pub fn new(pids: &[u32]) -> Self {
        Self {
            pids: pids.to_vec(),
            start: Instant::now(),
            start_ticks: pids.iter().map(|p| cpu_ticks(*p)).collect(),
            max_rss: vec![0; pids.len()],
        }
    }

    pub fn sample(&mut self) {
        for (i, p) in self.pids.iter().enumerate() {
            if let Some(r) = rss_kb(*p) {
                self.max_rss[i] = self.max_rss[i].max(r);
            }
        }
    }

    pub fn finish(mut self) -> Vec<ServerSample> {
        self.sample();
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        self.pids
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let used = match (self.start_ticks[i], cpu_ticks(*p)) {
                    (Some(a), Some(b)) => (b.saturating_sub(a)) as f64 / TICKS,
                    _ => 0.0,
                };
                ServerSample {
                    pid: *p,
                    cpu_percent: 100.0 * used / secs,
                    max_rss_kb: self.max_rss[i],
                    rss_kb: rss_kb(*p).unwrap_or(0),
                }
            })
            .collect()
    }
}
