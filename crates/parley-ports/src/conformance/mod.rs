//! Conformance suites: each takes a fresh-enough instance of a port (tests
//! use unique ids, so a shared backend is fine) and panics on the first
//! broken promise. Run them from each implementation's tests.

pub mod auth;
pub mod bus;
pub mod presence;
pub mod timeline;

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
