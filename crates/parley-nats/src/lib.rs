//! The event bus on NATS (needs nats-server 2.10 or newer with JetStream).
//!
//! - User deliveries: core NATS, one subject per user
//!   (`parley.user.<user_id>`), carrying a protobuf `BusPush`. Core NATS
//!   drops messages for absent or slow subscribers; clients recover by sync.
//! - Stored events: the JetStream stream `PARLEY_STORED` (subjects
//!   `parley.stored.<conversation_id>`), file storage, deduplicated by
//!   `<conversation>:<seq>` message ids, consumed through a durable pull
//!   consumer per group (at-least-once; acked after processing).
//!
//! Ids are validated before they become subject tokens.

mod bus;
mod credentials;

pub use bus::{NatsBus, NatsBusConfig};
