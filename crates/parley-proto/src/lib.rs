//! Parley's wire types, generated from proto/.
//!
//! [`v1`] holds the client protocol and the internal service APIs; [`codec`]
//! turns client frames into and out of the two WebSocket encodings.

pub mod codec;

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/parley.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/parley.v1.serde.rs"));
}

pub use v1 as pb;
