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
