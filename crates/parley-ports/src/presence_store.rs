use crate::StoreResult;
use async_trait::async_trait;
use parley_proto::v1 as pb;
use std::time::Duration;

/// One live connection: the gateway instance that holds it (empty when the
/// registering gateway did not say) and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnRef<'a> {
    pub gateway: &'a str,
    pub id: &'a str,
}

/// Online connections per user, each kept alive by heartbeats within `ttl`;
/// a user is online while any connection is alive. Implementations:
/// in-memory and Redis.
#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {
    /// Registers a connection. True when the user was offline before.
    async fn attach(&self, user: &str, conn: ConnRef<'_>, ttl: Duration) -> StoreResult<bool>;
    /// Extends a connection's lifetime (re-registers it if it had expired).
    async fn heartbeat(&self, user: &str, conn: ConnRef<'_>, ttl: Duration) -> StoreResult<()>;
    /// Removes a connection and records last-seen. True when the user is now offline.
    async fn detach(&self, user: &str, conn: ConnRef<'_>) -> StoreResult<bool>;
    /// Presence of many users in one round trip, in the order asked.
    async fn query(&self, users: &[String]) -> StoreResult<Vec<pb::PresenceInfo>>;
    /// The online users among `users` (in the order asked), each with the
    /// distinct gateways of their live connections, in one round trip.
    async fn routes(&self, users: &[String]) -> StoreResult<Vec<pb::UserRoute>>;
}
