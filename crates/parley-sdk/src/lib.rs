//! Rust client SDK for Parley.
//!
//! [`Client`] logs in over HTTP, holds one WebSocket (protocol v1) and
//! keeps it up: reconnection with jittered exponential backoff, token
//! refresh, sync on every (re)connect. Sends go through an outbox that
//! retries with the same `client_msg_id` after a reconnect, so a send is
//! stored once however often it is retried. Live events pass through a
//! per-conversation [`timeline::Timeline`] that delivers them in seq order,
//! exactly once, pulling any gap from history.
//!
//! Layout: `client` (configuration, login, the connection state, the raw
//! `request`), `requests` (one typed method per protocol request),
//! `supervisor` (keeps the connection up), `catch_up` (sync, gap pulls,
//! live events), `conn` (one WebSocket), `timeline` (per-conversation
//! ordering).

mod account;
mod catch_up;
mod client;
mod conn;
mod error;
mod http;
mod requests;
mod supervisor;
pub mod timeline;

pub use catch_up::BACKFILL;
pub use client::{Client, ClientConfig, ClientEvent, new_client_msg_id};
pub use error::SdkError;
pub use http::{Tokens, register, register_with_invite};
pub use parley_proto::codec::Encoding;
pub use parley_proto::v1 as pb;
