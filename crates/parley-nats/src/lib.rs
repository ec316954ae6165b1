//! The event bus on NATS (needs nats-server 2.10 or newer with JetStream).
//!
//! - Deliveries: core NATS, either to a gateway (`parley.gateway.<id>`,
//!   a `BusRouted`: one push for the users connected there) or to a user
//!   wherever connected (`parley.user.<user_id>`, a `BusPush`). Core NATS
//!   drops messages for absent or slow subscribers; clients recover by sync.
//! - Stored events: the JetStream stream `PARLEY_STORED` (subjects
//!   `parley.stored.*`), file storage, in batches (`stored.rs`)
//!   deduplicated by message id, consumed through a durable pull consumer
//!   per group (at-least-once; acked after processing).
//!
//! Ids are validated before they become subject tokens.

mod bus;
mod credentials;
mod headers;
mod push;
mod stored;

pub use bus::{NatsBus, NatsBusConfig};
