//! The gateway: the edge clients talk to.
//!
//! - `ws`: client protocol v1 over WebSocket (auth deadline, per-connection
//!   rate limit, bounded outbound queue drained by one writer task, slow
//!   consumers closed with "resync", keepalive, idle timeout);
//! - `requests`: the answer to each client request, one module per family;
//! - `registry`: which users have connections here, subscribed on the bus;
//! - `http`: login/refresh endpoints, JWKS, health, readiness, metrics;
//! - `http_server`, `admission`: the accept loop with header and request
//!   timeouts, the connection cap and the per-address cap;
//! - `web`: the browser app, embedded from web/dist;
//! - `creation_limit`: conversations a user may start per hour.

mod account_http;
mod admission;
mod config;
mod creation_limit;
mod error;
mod frames;
mod gateway;
mod hourly_limit;
mod http;
mod http_server;
mod login_throttle;
mod people;
mod per_address;
mod registry;
mod requests;
mod revocations;
mod sso_http;
mod tokens;
mod web;
mod ws;

pub use config::{GatewayConfig, Invitations};
pub use error::GatewayError;
pub use gateway::{Gateway, GatewayDeps};
pub use ws::close_codes;
