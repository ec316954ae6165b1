//! Embedded backends, the zero-configuration default: everything runs in
//! one process. Timelines live in a fjall (LSM) directory, accounts and keys
//! in a redb file.

mod db;
mod fjall_timeline;
mod member_cache;
mod memory_bus;
mod memory_presence;
mod redb_auth;
mod redb_timeline;
mod timeline_import;
mod writer_thread;

pub use db::EmbeddedDb;
pub use fjall_timeline::FjallTimelineStore;
pub use memory_bus::MemoryBus;
pub use memory_presence::MemoryPresence;
pub use redb_auth::RedbAuthStore;
pub use redb_timeline::RedbTimelineStore;
pub use timeline_import::open_timeline;
