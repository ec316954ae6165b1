//! Picks the backend behind each port from its URI in the configuration.

use crate::config::Config;
use anyhow::{Context, bail};
use parley_embedded::{MemoryBus, MemoryPresence};
use parley_nats::{NatsBus, NatsBusConfig};
use parley_ports::{AuthStore, EventBus, PresenceStore, TimelineStore};
use parley_redis::RedisPresence;
use parley_scylla::{ScyllaAuthStore, ScyllaSession, ScyllaTimelineStore};
use std::sync::Arc;
use std::time::Duration;

pub async fn bus(config: &Config) -> anyhow::Result<Arc<dyn EventBus>> {
    let uri = config.cluster.bus.as_str();
    if uri == "memory" {
        return Ok(Arc::new(MemoryBus::new()));
    }
    if uri.starts_with("nats://") {
        let mut cfg = NatsBusConfig::new(uri);
        cfg.ack_wait = Duration::from_secs(config.cluster.stored_ack_wait_secs.max(1));
        cfg.stream_replicas = config.cluster.stream_replicas.max(1);
        let bus = NatsBus::connect(cfg)
            .await
            .with_context(|| format!("connecting to NATS at {uri}"))?;
        return Ok(Arc::new(bus));
    }
    bail!("cluster.bus must be \"memory\" or a nats:// URL, not {uri:?}")
}

pub async fn presence_store(config: &Config) -> anyhow::Result<Arc<dyn PresenceStore>> {
    let uri = config.cluster.presence_store.as_str();
    if uri == "memory" {
        return Ok(Arc::new(MemoryPresence::new()));
    }
    if uri.starts_with("redis://") {
        let store = RedisPresence::connect(uri)
            .await
            .with_context(|| format!("connecting to Redis at {uri}"))?;
        return Ok(Arc::new(store));
    }
    bail!("cluster.presence_store must be \"memory\" or a redis:// URL, not {uri:?}")
}

/// The ScyllaDB session when `cluster.store` is a scylla:// URI (schema
/// migrated or checked, statements prepared); `None` for the embedded store.
pub async fn scylla(config: &Config) -> anyhow::Result<Option<Arc<ScyllaSession>>> {
    let store = config.cluster.store.as_str();
    if store == "embedded" {
        return Ok(None);
    }
    let Some(uri) = config.scylla_uri() else {
        bail!("cluster.store must be \"embedded\" or a scylla:// URI, not {store:?}");
    };
    let session = ScyllaSession::connect(uri, config.scylla.clone())
        .await
        .with_context(|| format!("opening the ScyllaDB store at {uri}"))?;
    Ok(Some(session))
}

/// The shared timeline and auth stores on ScyllaDB.
pub fn scylla_stores(session: &Arc<ScyllaSession>) -> (Arc<dyn TimelineStore>, Arc<dyn AuthStore>) {
    (
        Arc::new(ScyllaTimelineStore::new(session.clone())),
        Arc::new(ScyllaAuthStore::new(session.clone())),
    )
}
