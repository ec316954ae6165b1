//! The one writer thread of an embedded store: jobs queue on a channel and
//! the thread takes everything queued at once (a group commit). Shared by
//! the timeline store (fjall) and the auth store (redb).

use crate::db::be;
use parley_ports::{StoreError, StoreResult};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Largest number of jobs committed together.
pub(crate) const MAX_BATCH: usize = 4096;

pub(crate) struct WriterThread<J: Send + 'static> {
    jobs: Option<mpsc::Sender<J>>,
    handle: Option<JoinHandle<()>>,
}

impl<J: Send + 'static> WriterThread<J> {
    /// Starts thread `name` running `run` over the job queue; `run` returns
    /// when the queue is closed (the handle dropped).
    pub(crate) fn spawn(
        name: &str,
        run: impl FnOnce(mpsc::Receiver<J>) + Send + 'static,
    ) -> StoreResult<Self> {
        let (tx, rx) = mpsc::channel::<J>();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(rx))
            .map_err(be)?;
        Ok(Self {
            jobs: Some(tx),
            handle: Some(handle),
        })
    }

    pub(crate) fn send(&self, job: J) -> StoreResult<()> {
        self.jobs
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("store closed".into()))?
            .send(job)
            .map_err(|_| StoreError::Unavailable("store writer stopped".into()))
    }
}

impl<J: Send + 'static> Drop for WriterThread<J> {
    fn drop(&mut self) {
        // Closing the queue ends the writer; joining it makes sure the last
        // batch is committed and the database released (its file lock too,
        // so the same path can be opened again right away).
        self.jobs.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Waits for a job, then takes every job already queued (up to MAX_BATCH).
/// `None` once the queue is closed.
pub(crate) fn next_batch<J>(rx: &mpsc::Receiver<J>) -> Option<Vec<J>> {
    let first = rx.recv().ok()?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    Some(batch)
}
