//! Embedded backends, the zero-configuration default: everything runs in
//! one process and the durable state lives in one redb file.

mod db;
mod memory_bus;
mod memory_presence;
mod redb_auth;
mod redb_timeline;

pub use db::EmbeddedDb;
pub use memory_bus::MemoryBus;
pub use memory_presence::MemoryPresence;
pub use redb_auth::RedbAuthStore;
pub use redb_timeline::RedbTimelineStore;
