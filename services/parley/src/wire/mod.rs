//! One wiring per service, used by both topologies: `parley up`
//! (`node.rs`) wires every service with local clients of the others;
//! `parley <service>` (`split.rs`) wires one with remote clients and
//! serves it. Each function takes the process's `Backends` (which opens the
//! stores and the bus) and the clients of the services it calls.

mod auth;
mod clients;
mod fanout;
mod gateway;
mod presence;
mod storage;

pub use auth::auth;
pub use clients::Clients;
pub use fanout::{Fanout, fanout};
pub use gateway::gateway;
pub use presence::presence;
pub use storage::storage;
