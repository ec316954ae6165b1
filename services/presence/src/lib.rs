//! The presence service: which users are online (on how many connections),
//! kept alive by gateway heartbeats, with last-seen for the others.

use async_trait::async_trait;
use parley_core::ServiceResult;
use parley_core::ids::validate_id;
use parley_core::services::PresenceApi;
use parley_ports::PresenceStore;
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

fn check(s: &pb::PresenceSession) -> ServiceResult<()> {
    validate_id("user_id", &s.user_id)?;
    validate_id("connection_id", &s.connection_id)
}

#[async_trait]
impl PresenceApi for PresenceService {
    async fn attach(&self, s: pb::PresenceSession) -> ServiceResult<pb::PresenceUpdate> {
        check(&s)?;
        let changed = self
            .store
            .attach(&s.user_id, &s.connection_id, self.ttl)
            .await?;
        Ok(pb::PresenceUpdate {
            changed,
            info: Some(self.info(&s.user_id).await?),
        })
    }

    async fn heartbeat(&self, s: pb::PresenceSession) -> ServiceResult<pb::Empty> {
        check(&s)?;
        self.store
            .heartbeat(&s.user_id, &s.connection_id, self.ttl)
            .await?;
        Ok(pb::Empty {})
    }

    async fn detach(&self, s: pb::PresenceSession) -> ServiceResult<pb::PresenceUpdate> {
        check(&s)?;
        let changed = self.store.detach(&s.user_id, &s.connection_id).await?;
        Ok(pb::PresenceUpdate {
            changed,
            info: Some(self.info(&s.user_id).await?),
        })
    }

    async fn query(&self, q: pb::PresenceQuery) -> ServiceResult<pb::PresenceList> {
        if q.user_ids.len() > MAX_QUERY {
            return Err(parley_core::ServiceError::InvalidArgument(format!(
                "at most {MAX_QUERY} users per query"
            )));
        }
        for u in &q.user_ids {
            validate_id("user_id", u)?;
        }
        Ok(pb::PresenceList {
            users: self.store.query(&q.user_ids).await?,
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
                    PresenceGrpc(svc).into_service(),
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
        assert!(!c.detach(session("u1", "c1")).await.unwrap().changed);
        let gone = c.detach(session("u1", "c2")).await.unwrap();
        assert!(gone.changed && !gone.info.unwrap().online);
        let err = c.attach(session("u.1", "c1")).await.unwrap_err();
        assert!(matches!(err, parley_core::ServiceError::InvalidArgument(_)));
        server.abort();
    }
}
