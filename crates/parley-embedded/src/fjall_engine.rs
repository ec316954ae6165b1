//! How the timeline store's fjall database is opened and tuned. Each
//! setting answers a measured stall (docs/benchmarks.md, "Stalls"):
//!
//! - Flush and compaction threads run at a lower CPU priority
//!   (`background.rs`): a compaction took a core for seconds and, on a busy
//!   machine, that core came out of deliveries.
//! - At least three of those threads: with two, fjall's worker 0 hands
//!   compaction requests back to the queue while worker 1 compacts, and
//!   takes them again at once, spinning a core for as long as the
//!   compaction lasts (seen as `worker_tick` and `flume` in profiles and as
//!   +40% server CPU during compactions).
//! - Memtables of 8 MiB for the busy keyspaces and compaction output tables
//!   of 16 MiB (fjall: 64 MiB each by default): every flush and every
//!   compaction is a burst of disk writes, and a group commit's fdatasync
//!   that lands in one waits behind it (commits of 40-90 ms during a flush
//!   of 16 MiB memtables). Smaller units of background work make shorter
//!   bursts; the total work stays the same.
//!
//! Keyspace options are fixed when a keyspace is created, so stores created
//! by an older version keep their sizes (only the thread settings apply).

use crate::background::{BACKGROUND_NICE, with_lowered_priority};
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use parley_ports::{StoreError, StoreResult};
use std::path::Path;
use std::sync::Arc;

/// Memtable of the keyspaces that take a write per message (events, dedup).
const MEMTABLE_BUSY: u64 = 8 << 20;
/// Memtable of the others (members, leases, conversations...).
const MEMTABLE_SMALL: u64 = 4 << 20;
/// Tables a compaction writes (the unit of compaction work).
const TABLE_TARGET: u64 = 16 << 20;
/// Fewest flush/compaction threads (see the module comment).
const MIN_WORKERS: usize = 3;

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Opens (or creates) the database in `dir` with a block cache of
/// `cache_bytes`; group commits decide durability (the journal is synced
/// only when the store asks).
pub(crate) fn open(dir: &Path, cache_bytes: u64) -> StoreResult<Database> {
    std::fs::create_dir_all(dir).map_err(be)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(MIN_WORKERS, 4);
    // The engine starts its worker threads while opening: they inherit the
    // lowered priority.
    with_lowered_priority(BACKGROUND_NICE, || {
        Database::builder(dir)
            .cache_size(cache_bytes)
            .worker_threads(workers)
            .manual_journal_persist(true)
            .open()
    })
    .map_err(be)
}

/// Opens (or creates) keyspace `name`; `busy` for those written on every
/// message.
pub(crate) fn keyspace(db: &Database, name: &str, busy: bool) -> StoreResult<Keyspace> {
    let memtable = if busy { MEMTABLE_BUSY } else { MEMTABLE_SMALL };
    db.keyspace(name, move || {
        KeyspaceCreateOptions::default()
            .max_memtable_size(memtable)
            .compaction_strategy(Arc::new(
                fjall::compaction::Leveled::default().with_table_target_size(TABLE_TARGET),
            ))
    })
    .map_err(be)
}
