//! ScyllaDB implementations of Parley's timeline and auth stores (the only
//! crate that depends on the `scylla` driver).
//!
//! One [`ScyllaSession`] per process: it connects, applies the embedded
//! schema migrations (or checks them), and prepares every statement once.
//! Both stores share it.

mod auth;
pub mod bucket;
pub mod config;
mod error;
mod lwt;
pub mod migrations;
pub mod rows;
mod session;
pub mod statements;
mod timeline;

pub use auth::ScyllaAuthStore;
pub use config::{ScyllaConfig, ScyllaUri};
pub use error::ScyllaError;
pub use session::{ScyllaSession, builder as session_builder, parse_consistency};
pub use timeline::ScyllaTimelineStore;

/// Applies pending migrations to the cluster at `uri` (`parley migrate`);
/// returns the versions applied now (empty when already up to date).
pub async fn migrate(uri: &str, config: &ScyllaConfig) -> Result<Vec<i32>, ScyllaError> {
    let parsed = ScyllaUri::parse(uri)?;
    let session = session::builder(&parsed, config)?.build().await?;
    migrations::migrate(&session, &parsed.keyspace, config).await
}
