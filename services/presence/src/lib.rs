//! The presence service: which users are online (on how many connections),
//! kept alive by gateway heartbeats, with last-seen for the others.

use async_trait::async_trait;
use parley_core::ServiceResult;
use parley_core::ids::validate_id;
use parley_core::services::PresenceApi;
use parley_ports::{ConnRef, PresenceStore};
use parley_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Largest number of users asked about in one query.
pub const MAX_QUERY: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// A connection not heard from for this long counts as gone. Gateways
    /// heartbeat at a third of it.
    pub ttl_secs: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self { ttl_secs: 90 }
    }
}

impl PresenceConfig {
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs.max(3))
    }

    /// How often a gateway refreshes each of its connections.
    pub fn heartbeat_interval(&self) -> Duration {
        self.ttl() / 3
    }
}

pub struct PresenceService {
    store: Arc<dyn PresenceStore>,
    ttl: Duration,
}

impl PresenceService {
    pub fn new(store: Arc<dyn PresenceStore>, config: &PresenceConfig) -> Self {
        Self {
            store,
            ttl: config.ttl(),
        }
    }

    async fn info(&self, user: &str) -> ServiceResult<pb::PresenceInfo> {
        Ok(self
            .store
            .query(&[user.to_string()])
            .await?
            .pop()
            .unwrap_or_default())
    }
}

/// The session's connection, checked (a gateway may leave its id empty:
/// versions before routed deliveries did).
fn conn(s: &pb::PresenceSession) -> ServiceResult<ConnRef<'_>> {
    validate_id("user_id", &s.user_id)?;
    validate_id("connection_id", &s.connection_id)?;
    if !s.gateway_id.is_empty() {
        validate_id("gateway_id", &s.gateway_id)?;
    }
    Ok(ConnRef {
        gateway: &s.gateway_id,
        id: &s.connection_id,
    })
}

fn check_query(q: &pb::PresenceQuery) -> ServiceResult<()> {
    if q.user_ids.len() > MAX_QUERY {
        return Err(parley_core::ServiceError::InvalidArgument(format!(
            "at most {MAX_QUERY} users per query"
        )));
    }
    for u in &q.user_ids {
        validate_id("user_id", u)?;
    }
    Ok(())
}

#[async_trait]
impl PresenceApi for PresenceService {
    async fn attach(&self, s: pb::PresenceSession) -> ServiceResult<pb::PresenceUpdate> {
        let changed = self.store.attach(&s.user_id, conn(&s)?, self.ttl).await?;
        Ok(pb::PresenceUpdate {
            changed,
            info: Some(self.info(&s.user_id).await?),
        })
    }

    async fn heartbeat(&self, s: pb::PresenceSession) -> ServiceResult<pb::Empty> {
        self.store
            .heartbeat(&s.user_id, conn(&s)?, self.ttl)
            .await?;
        Ok(pb::Empty {})
    }

    async fn detach(&self, s: pb::PresenceSession) -> ServiceResult<pb::PresenceUpdate> {
        let changed = self.store.detach(&s.user_id, conn(&s)?).await?;
        Ok(pb::PresenceUpdate {
            changed,
            info: Some(self.info(&s.user_id).await?),
        })
    }

    async fn query(&self, q: pb::PresenceQuery) -> ServiceResult<pb::PresenceList> {
        check_query(&q)?;
        Ok(pb::PresenceList {
            users: self.store.query(&q.user_ids).await?,
        })
    }

    async fn routes(&self, q: pb::PresenceQuery) -> ServiceResult<pb::PresenceRoutes> {
        check_query(&q)?;
        Ok(pb::PresenceRoutes {
            users: self.store.routes(&q.user_ids).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::services::{PresenceClient, PresenceGrpc};
    use parley_embedded::MemoryPresence;

    fn session(u: &str, c: &str) -> pb::PresenceSession {
        pb::PresenceSession {
            user_id: u.into(),
            connection_id: c.into(),
            gateway_id: "gw1".into(),
        }
    }

    #[tokio::test]
    async fn over_grpc() {
        let svc = Arc::new(PresenceService::new(
            Arc::new(MemoryPresence::new()),
            &PresenceConfig::default(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(tonic::service::interceptor::InterceptedService::new(
                    PresenceGrpc(svc.clone()).into_service(),
                    parley_core::peer::assume_peer_in_tests(parley_core::peer::Peer::Gateway),
                ))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let c = PresenceClient::remote(ch);
        assert!(c.attach(session("u1", "c1")).await.unwrap().changed);
        assert!(!c.attach(session("u1", "c2")).await.unwrap().changed);
        let q = c
            .query(pb::PresenceQuery {
                user_ids: vec!["u1".into(), "u2".into()],
            })
            .await
            .unwrap();
        assert_eq!(
            q.users.iter().map(|u| u.online).collect::<Vec<_>>(),
            vec![true, false]
        );
        // Routes are fanout's (the gateway may not ask): ask the service.
        let routes = svc
            .routes(pb::PresenceQuery {
                user_ids: vec!["u1".into(), "u2".into()],
            })
            .await
            .unwrap();
        assert_eq!(routes.users.len(), 1);
        assert_eq!(routes.users[0].gateway_ids, vec!["gw1".to_string()]);
        assert!(!c.detach(session("u1", "c1")).await.unwrap().changed);
        let gone = c.detach(session("u1", "c2")).await.unwrap();
        assert!(gone.changed && !gone.info.unwrap().online);
        let err = c.attach(session("u.1", "c1")).await.unwrap_err();
        assert!(matches!(err, parley_core::ServiceError::InvalidArgument(_)));
        let mut bad_gateway = session("u1", "c1");
        bad_gateway.gateway_id = "g.1".into();
        let err = c.attach(bad_gateway).await.unwrap_err();
        assert!(matches!(err, parley_core::ServiceError::InvalidArgument(_)));
        server.abort();
    }
}
