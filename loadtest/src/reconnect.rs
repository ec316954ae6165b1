//! Reconnect storm: clients lose their gateway at once (a restart of every
//! gateway, or one of several stopping) and come back, to the same gateway
//! or another; how long until all of them are connected again.

use crate::report::{Latency, ReconnectReport};
use crate::setup::clients;
use hdrhistogram::Histogram;
use parley_sdk::{ClientEvent, Encoding};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) async fn run<F>(
    urls: &[String],
    prefix: &str,
    count: usize,
    logins: usize,
    encoding: Encoding,
    deadline: Duration,
    restart: F,
) -> anyhow::Result<ReconnectReport>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let mut people = clients(urls, prefix, count, logins, encoding).await?;
    let started = Instant::now();
    let mut watchers = Vec::new();
    let dropped_count = Arc::new(AtomicU64::new(0));
    for p in &mut people {
        let mut rx = p.events.take().expect("events");
        let dropped_count = dropped_count.clone();
        watchers.push(tokio::spawn(async move {
            let mut dropped = false;
            while let Some(e) = rx.recv().await {
                match e {
                    ClientEvent::Disconnected { .. } if !dropped => {
                        dropped = true;
                        dropped_count.fetch_add(1, Ordering::Relaxed);
                    }
                    ClientEvent::Connected if dropped => return Some(Instant::now()),
                    _ => {}
                }
            }
            None
        }));
    }
    restart.await?;
    let restarted_in = started.elapsed();
    let mut latency = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3).expect("valid bounds");
    let mut reconnected = 0u64;
    let until = tokio::time::Instant::now() + deadline;
    let mut last = started;
    for w in watchers {
        // A client the restart did not touch (its gateway kept running)
        // never reconnects: it waits out the deadline and is not counted.
        if let Ok(Ok(Some(at))) = tokio::time::timeout_at(until, w).await {
            reconnected += 1;
            last = last.max(at);
            let _ = latency.record((at.duration_since(started).as_micros() as u64).max(1));
        }
    }
    // Counted before the clients are closed: closing is a disconnect too.
    let dropped = dropped_count.load(Ordering::Relaxed);
    for p in &people {
        p.client.close();
    }
    let all_in = last.duration_since(started).as_secs_f64();
    Ok(ReconnectReport {
        clients: count as u64,
        dropped,
        reconnected,
        restart_seconds: restarted_in.as_secs_f64(),
        seconds_to_all: all_in,
        reconnects_per_sec: reconnected as f64 / all_in.max(0.001),
        reconnect_latency: Latency::from_us(&latency),
    })
}
