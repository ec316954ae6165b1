//! Test support. Tests that need NATS or Redis start a real server on a
//! free loopback port in its own temp dir; it is killed when dropped, so
//! tests are isolated and can kill and restart a server mid-test to prove
//! recovery.
//!
//! The server processes themselves live in `parley-devservers`, which
//! `parley cluster` uses too; this crate is where test-only helpers go, and
//! it is only ever a dev-dependency (the architecture test checks).

pub use parley_devservers::{NatsServer, RedisServer, nats_server_binary};
