//! Embedded backends, the zero-configuration default: everything runs in
//! one process. Timelines live in a fjall (LSM) directory, accounts and keys
//! in a redb file. `RedbTimelineStore` is the older timeline store, kept
//! (with its conformance run) while `import_redb_timeline` can still move
//! its data into fjall.

mod background;
mod db;
mod fjall_engine;
mod fjall_stats;
mod fjall_timeline;
mod member_cache;
mod memory_bus;
mod memory_presence;
mod redb_auth;
mod redb_import;
mod redb_timeline;
mod writer_thread;

pub use db::EmbeddedDb;
pub use fjall_timeline::FjallTimelineStore;
pub use memory_bus::MemoryBus;
pub use memory_presence::MemoryPresence;
pub use redb_auth::RedbAuthStore;
pub use redb_import::{holds_redb_timeline, import_redb_timeline};
pub use redb_timeline::RedbTimelineStore;
