//! Picks the backend behind each port from its URI in the configuration.

use crate::config::Config;
use anyhow::{Context, bail};
use parley_embedded::{MemoryBus, MemoryPresence};
use parley_nats::{NatsBus, NatsBusConfig};
use parley_ports::{EventBus, PresenceStore};
use parley_redis::RedisPresence;
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
