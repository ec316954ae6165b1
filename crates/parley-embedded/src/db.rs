//! The redb database shared by the embedded stores, with one writer thread
//! that commits every write queued meanwhile in a single durable
//! transaction (group commit): concurrent sends share one fsync.

use parley_ports::{StoreError, StoreResult};
use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

use crate::writer_thread::{WriterThread, next_batch};

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

struct Inner {
    /// Declared first: dropped (joined) before `db`.
    writer: WriterThread<Job>,
    db: Arc<Database>,
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
        let writer_db = db.clone();
        let writer = WriterThread::spawn("parley-db-writer", move |rx| {
            writer_loop(&writer_db, &rx);
        })?;
        Ok(Self {
            inner: Arc::new(Inner { writer, db }),
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
        self.inner.writer.send(job)?;
        rx.await
            .map_err(|_| StoreError::Unavailable("database writer stopped".into()))?
    }
}

fn writer_loop(db: &Database, rx: &mpsc::Receiver<Job>) {
    while let Some(batch) = next_batch(rx) {
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
