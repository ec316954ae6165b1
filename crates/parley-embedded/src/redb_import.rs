//! The import of a timeline an earlier version kept in a redb file (before
//! timelines moved to fjall) into a new fjall store: `parley migrate
//! --from-redb` runs it, never the startup path. The redb tables are left
//! as they were.

use crate::db::{EmbeddedDb, be};
use crate::fjall_timeline::{FjallTimelineStore, ImportRow};
use crate::redb_timeline::{CONVERSATIONS, DEDUP, EVENTS, LEASES, MEMBERS, USER_CONVS};
use parley_ports::{StoreError, StoreResult};
use redb::{ReadableTable, ReadableTableMetadata, TableError};
use tokio::sync::mpsc;

/// Rows written per import commit (and the most held in memory at once,
/// besides the leases).
const CHUNK: usize = 20_000;

/// Whether `db` holds a timeline of the older layout (any conversation).
pub fn holds_redb_timeline(db: &EmbeddedDb) -> StoreResult<bool> {
    let txn = db.read()?;
    match txn.open_table(CONVERSATIONS) {
        Ok(t) => Ok(t.len().map_err(be)? > 0),
        Err(TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(be(e)),
    }
}

/// Copies the redb timeline of `db` into `store`, which must be empty;
/// returns the rows copied. Rows stream through in chunks of [`CHUNK`];
/// the seq leases go last, in one commit, because the store counts as
/// holding a timeline once it has leases: an import that stops half-way
/// leaves a store without them, which this can import into again (the
/// rows are copied as they are, so copying twice changes nothing), and a
/// conversation can never get a lease below seqs it already used.
pub async fn import_redb_timeline(
    db: &EmbeddedDb,
    store: &FjallTimelineStore,
) -> StoreResult<usize> {
    if !store.is_empty()? {
        return Err(StoreError::AlreadyExists(
            "the timeline store is not empty: nothing imported".into(),
        ));
    }
    let (tx, mut rx) = mpsc::channel::<StoreResult<Vec<ImportRow>>>(2);
    let source = db.clone();
    let reader = tokio::task::spawn_blocking(move || read_in_chunks(&source, &tx));
    let mut rows = 0;
    let mut leases = Vec::new();
    while let Some(chunk) = rx.recv().await {
        let (lease_rows, rest): (Vec<_>, Vec<_>) = chunk?
            .into_iter()
            .partition(|r| matches!(r, ImportRow::Lease(..)));
        leases.extend(lease_rows);
        rows += rest.len();
        if !rest.is_empty() {
            store.import(rest).await?;
        }
    }
    reader.await.map_err(be)?;
    rows += leases.len();
    if !leases.is_empty() {
        store.import(leases).await?;
    }
    tracing::info!(rows, "imported the timeline from the redb file");
    Ok(rows)
}

/// Reads every timeline table in one read transaction (a consistent
/// snapshot), sending rows in chunks. Stops early if the receiver is gone.
fn read_in_chunks(db: &EmbeddedDb, out: &mpsc::Sender<StoreResult<Vec<ImportRow>>>) {
    let mut chunk = Vec::with_capacity(CHUNK);
    let result = (|| -> StoreResult<()> {
        let txn = db.read()?;
        let mut push = |row: ImportRow| -> StoreResult<()> {
            chunk.push(row);
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                out.blocking_send(Ok(full))
                    .map_err(|_| StoreError::Unavailable("import stopped".into()))?;
            }
            Ok(())
        };
        macro_rules! each {
            ($table:expr, |$k:ident, $v:ident| $row:expr) => {
                match txn.open_table($table) {
                    Ok(t) => {
                        for r in t.iter().map_err(be)? {
                            let (kg, vg) = r.map_err(be)?;
                            let ($k, $v) = (kg.value(), vg.value());
                            push($row)?;
                        }
                    }
                    Err(TableError::TableDoesNotExist(_)) => {}
                    Err(e) => return Err(be(e)),
                }
            };
        }
        each!(CONVERSATIONS, |k, v| ImportRow::Conversation(
            k.to_string(),
            v.to_vec()
        ));
        each!(MEMBERS, |k, v| ImportRow::Member(
            k.0.to_string(),
            k.1.to_string(),
            v.to_vec()
        ));
        each!(USER_CONVS, |k, _v| ImportRow::UserConv(
            k.0.to_string(),
            k.1.to_string()
        ));
        each!(EVENTS, |k, v| ImportRow::Event(
            k.0.to_string(),
            k.1,
            v.to_vec()
        ));
        each!(DEDUP, |k, v| ImportRow::Dedup(
            k.0.to_string(),
            k.1.to_string(),
            k.2.to_string(),
            v
        ));
        each!(LEASES, |k, v| ImportRow::Lease(k.to_string(), v));
        Ok(())
    })();
    let last = match result {
        Ok(()) => Ok(std::mem::take(&mut chunk)),
        Err(e) => Err(e),
    };
    let _ = out.blocking_send(last);
}
