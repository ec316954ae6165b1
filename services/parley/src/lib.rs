//! The composition root: configuration, the modes and what each honours
//! (`mode`), the backend factory (`backends`, file names in `layout`), one
//! wiring per service (`wire`) used by both `parley up` (`node`) and one
//! service per process (`split`), network and admin helpers (`net`,
//! `admin`), and the subcommands (`commands`, `cluster`).

pub mod admin;
pub mod backends;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod internal_tls;
pub mod layout;
pub mod mode;
pub mod net;
pub mod node;
pub mod private_files;
pub mod split;
pub mod telemetry;
pub mod wire;

pub use config::Config;
pub use node::{RunningNode, start_embedded};

/// For tests: the storage instance owning a conversation.
#[doc(hidden)]
pub use parley_core::routing::owner_of as __private_owner_of;
