//! The redb database shared by the embedded stores, with one writer thread
//! that commits every write queued meanwhile in a single durable
//! transaction (group commit): concurrent sends share one fsync.

use parley_ports::{StoreError, StoreResult};
use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Converts any redb error into a backend error.
pub(crate) fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Opens a table in a read transaction; a table never written yet does not
/// exist, which reads as empty: returns `$empty` from the caller.
macro_rules! open_or_empty {
    ($txn:expr, $table:expr, $empty:expr) => {
        match $txn.open_table($table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok($empty),
            Err(e) => return Err($crate::db::be(e)),
        }
    };
}
pub(crate) use open_or_empty;

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// A write job runs inside the shared transaction and returns what to do
/// once the commit outcome is known. A job makes all its checks before its
/// first write: a job that fails after writing aborts the whole batch.
type Job = Box<dyn FnOnce(&WriteTransaction) -> (bool, Completion) + Send>;

/// Page cache when none is configured (redb's own default is 1 GiB).
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Largest number of jobs committed together.
const MAX_BATCH: usize = 4096;

struct Inner {
    db: Arc<Database>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer; joining releases the file lock
        // so the same path can be opened again right away.
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// A handle to the embedded database (cheap to clone).
#[derive(Clone)]
pub struct EmbeddedDb {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedDb")
    }
}

impl EmbeddedDb {
    /// Opens (or creates) the database file at `path`, creating parent
    /// dirs, with the default page cache.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens with a page cache of at most `cache_bytes` (memory grows up to
    /// it as the database is used).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(be)?;
        }
        let db = Arc::new(
            Database::builder()
                .set_cache_size(cache_bytes)
                .create(path)
                .map_err(be)?,
        );
        let (tx, rx) = mpsc::channel::<Job>();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("parley-db-writer".into())
            .spawn(move || writer_loop(&writer_db, &rx))
            .map_err(be)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                jobs: Some(tx),
                writer: Some(writer),
            }),
        })
    }

    pub(crate) fn read(&self) -> StoreResult<ReadTransaction> {
        self.inner.db.begin_read().map_err(be)
    }

    /// Runs `f` in the next group commit; resolves after the durable commit.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            // Logical refusals (e.g. AlreadyExists) wrote nothing; anything
            // else may have written part of the job.
            let poisoned = matches!(result, Err(StoreError::Backend(_) | StoreError::Corrupt(_)));
            let done: Completion = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (poisoned, done)
        });
        let jobs = self
            .inner
            .jobs
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("database closed".into()))?;
        jobs.send(job)
            .map_err(|_| StoreError::Unavailable("database writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("database writer stopped".into()))?
    }
}

fn writer_loop(db: &Database, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                let msg = e.to_string();
                for job in batch {
                    // A job that never ran still has to be answered; running it
                    // is impossible without a transaction, so drop it: its
                    // caller sees the writer as unavailable.
                    drop(job);
                }
                tracing::error!(error = %msg, "cannot begin write transaction");
                continue;
            }
        };
        let mut completions = Vec::with_capacity(batch.len());
        let mut poisoned = false;
        for job in batch {
            let (p, done) = job(&txn);
            poisoned |= p;
            completions.push(done);
        }
        let outcome = if poisoned {
            let _ = txn.abort();
            Err(StoreError::Backend(
                "batch aborted after a failed write".into(),
            ))
        } else {
            txn.commit().map_err(be)
        };
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "group commit failed");
        }
        for done in completions {
            let o = match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            };
            done(o);
        }
    }
}
