//! What the timeline store's engine is doing, as gauges sampled once a
//! second: memtable and block-cache bytes, queued flushes, running
//! compactions, tables per keyspace, journals, and the slowest group commit
//! and slowest batch run (the reads and checks before the commit) of the
//! last second. A latency spike is then seen next to what the store
//! did in the same second (the load generator records these per second).

use fjall::{Database, Keyspace};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(1);

/// The slowest batch run and commit since the last sample; the writer
/// raises them, the sampler reads and resets them. A run is where the
/// writer reads the engine (dedup and existence checks): a read waits while
/// a flush or compaction holds the keyspace's version lock, which the
/// commit time alone does not show.
#[derive(Default)]
pub(crate) struct BatchPeaks {
    pub(crate) run: Peak,
    pub(crate) commit: Peak,
}

/// The largest duration recorded since the last `take`, in microseconds.
#[derive(Default)]
pub(crate) struct Peak(AtomicU64);

impl Peak {
    pub(crate) fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.0.fetch_max(us, Ordering::Relaxed);
    }

    fn take(&self) -> Duration {
        Duration::from_micros(self.0.swap(0, Ordering::Relaxed))
    }
}

/// Samples until dropped (the drop joins the thread, so the database is
/// not held open after the store is gone).
pub(crate) struct StatsThread {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl StatsThread {
    pub(crate) fn spawn(
        db: Database,
        keyspaces: Vec<(&'static str, Keyspace)>,
        peaks: Arc<BatchPeaks>,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("parley-timeline-stats".into())
            .spawn(move || {
                // Sends nothing: the sender's drop (or a send) ends the wait.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    sample(&db, &keyspaces, &peaks);
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            handle: Some(handle),
        })
    }
}

impl Drop for StatsThread {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn sample(db: &Database, keyspaces: &[(&'static str, Keyspace)], peaks: &BatchPeaks) {
    metrics::gauge!("parley_timeline_memtable_bytes").set(db.write_buffer_size() as f64);
    metrics::gauge!("parley_timeline_block_cache_bytes").set(db.cache_size() as f64);
    metrics::gauge!("parley_timeline_flushes_queued").set(db.outstanding_flushes() as f64);
    metrics::gauge!("parley_timeline_compactions_running").set(db.active_compactions() as f64);
    metrics::gauge!("parley_timeline_compactions_completed").set(db.compactions_completed() as f64);
    metrics::gauge!("parley_timeline_compaction_seconds").set(db.time_compacting().as_secs_f64());
    metrics::gauge!("parley_timeline_journals").set(db.journal_count() as f64);
    if let Ok(bytes) = db.journal_disk_space() {
        metrics::gauge!("parley_timeline_journal_bytes").set(bytes as f64);
    }
    metrics::gauge!("parley_timeline_commit_peak_seconds").set(peaks.commit.take().as_secs_f64());
    metrics::gauge!("parley_timeline_run_peak_seconds").set(peaks.run.take().as_secs_f64());
    for (name, ks) in keyspaces {
        let name = *name;
        metrics::gauge!("parley_timeline_tables", "keyspace" => name).set(ks.table_count() as f64);
        metrics::gauge!("parley_timeline_l0_tables", "keyspace" => name)
            .set(ks.l0_table_count() as f64);
        metrics::gauge!("parley_timeline_sealed_memtables", "keyspace" => name)
            .set(ks.sealed_memtable_count() as f64);
        metrics::gauge!("parley_timeline_disk_bytes", "keyspace" => name)
            .set(ks.disk_space() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_slowest_since_the_last_sample() {
        let peak = Peak::default();
        peak.record(Duration::from_millis(3));
        peak.record(Duration::from_millis(9));
        peak.record(Duration::from_millis(1));
        assert_eq!(peak.take(), Duration::from_millis(9));
        assert_eq!(peak.take(), Duration::ZERO);
    }
}
