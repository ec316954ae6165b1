//! The composition root: configuration, and the wiring of services to
//! backends for `parley up` (everything in one process, embedded backends)
//! and for one service per process (`parley <service>`).

pub mod backends;
pub mod cluster;
pub mod config;
pub mod node;
pub mod split;
pub mod telemetry;

pub use config::Config;
pub use node::{RunningNode, start_embedded};

/// For tests: the storage instance owning a conversation.
#[doc(hidden)]
pub use parley_core::routing::owner_of as __private_owner_of;
