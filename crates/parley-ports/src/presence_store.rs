use crate::StoreResult;
use async_trait::async_trait;
use parley_proto::v1 as pb;
use std::time::Duration;

/// Online connections per user, each kept alive by heartbeats within `ttl`;
/// a user is online while any connection is alive. Implementations:
/// in-memory and Redis.
#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {
    /// Registers a connection. True when the user was offline before.
    async fn attach(&self, user: &str, conn: &str, ttl: Duration) -> StoreResult<bool>;
    /// Extends a connection's lifetime (re-registers it if it had expired).
    async fn heartbeat(&self, user: &str, conn: &str, ttl: Duration) -> StoreResult<()>;
    /// Removes a connection and records last-seen. True when the user is now offline.
    async fn detach(&self, user: &str, conn: &str) -> StoreResult<bool>;
    /// Presence of many users in one round trip, in the order asked.
    async fn query(&self, users: &[String]) -> StoreResult<Vec<pb::PresenceInfo>>;
}
