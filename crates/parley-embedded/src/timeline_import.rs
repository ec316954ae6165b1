//! Opening the timeline store, with a one-time import of a timeline kept by
//! an earlier version in the redb file (before timelines moved to fjall).
//! The redb tables are left as they were.

use crate::db::{EmbeddedDb, be};
use crate::fjall_timeline::{FjallTimelineStore, ImportRow};
use crate::redb_timeline::{CONVERSATIONS, DEDUP, EVENTS, LEASES, MEMBERS, USER_CONVS};
use parley_ports::StoreResult;
use redb::{ReadableTable, TableError};
use std::path::Path;

/// Rows written per import commit.
const CHUNK: usize = 20_000;

/// Opens the timeline store in `dir`; if it is new and `legacy` holds a redb
/// timeline, copies that timeline into it first. Returns the store and the
/// number of rows imported.
pub async fn open_timeline(
    dir: &Path,
    cache_bytes: u64,
    legacy: Option<&EmbeddedDb>,
) -> StoreResult<(FjallTimelineStore, usize)> {
    let store = FjallTimelineStore::open(dir, cache_bytes)?;
    let Some(db) = legacy else {
        return Ok((store, 0));
    };
    if !store.is_empty()? {
        return Ok((store, 0));
    }
    let rows = legacy_rows(db)?;
    let n = rows.len();
    // Leases last: the store counts as imported (non-empty) only once they are in.
    let (leases, mut rest): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|r| matches!(r, ImportRow::Lease(..)));
    while !rest.is_empty() {
        let chunk: Vec<ImportRow> = rest.drain(..rest.len().min(CHUNK)).collect();
        store.import(chunk).await?;
    }
    if !leases.is_empty() {
        store.import(leases).await?;
    }
    if n > 0 {
        tracing::info!(rows = n, "imported the timeline from the redb file");
    }
    Ok((store, n))
}

fn legacy_rows(db: &EmbeddedDb) -> StoreResult<Vec<ImportRow>> {
    let txn = db.read()?;
    let mut out = Vec::new();
    macro_rules! each {
        ($table:expr, |$k:ident, $v:ident| $row:expr) => {
            match txn.open_table($table) {
                Ok(t) => {
                    for r in t.iter().map_err(be)? {
                        let (kg, vg) = r.map_err(be)?;
                        let ($k, $v) = (kg.value(), vg.value());
                        out.push($row);
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
    Ok(out)
}
