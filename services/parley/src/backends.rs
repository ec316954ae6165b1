//! Opens the backend behind each port, from its URI in the configuration:
//! the embedded stores too, so this is the only place that picks a
//! concrete backend. One `Backends` per process: it opens each store once
//! (one bus, one ScyllaDB session, one handle per redb file) however many
//! services ask for it, and closes the bus last at shutdown.

use crate::config::Config;
use crate::layout::EmbeddedFiles;
use crate::mode::Mode;
use anyhow::{Context, bail};
use parking_lot::Mutex;
use parley_embedded::{
    EmbeddedDb, FjallTimelineStore, MemoryBus, MemoryPresence, RedbAuthStore, holds_redb_timeline,
};
use parley_nats::{NatsBus, NatsBusConfig};
use parley_ports::{AuthStore, EventBus, PresenceStore, TimelineStore};
use parley_redis::RedisPresence;
use parley_scylla::{ScyllaAuthStore, ScyllaSession, ScyllaTimelineStore};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

pub struct Backends {
    config: Config,
    files: EmbeddedFiles,
    bus: OnceCell<Arc<dyn EventBus>>,
    scylla: OnceCell<Option<Arc<ScyllaSession>>>,
    redb: Mutex<HashMap<PathBuf, EmbeddedDb>>,
}

impl Backends {
    pub fn new(config: &Config, mode: Mode) -> Self {
        Self {
            files: EmbeddedFiles::of(config, mode),
            config: config.clone(),
            bus: OnceCell::new(),
            scylla: OnceCell::new(),
            redb: Mutex::new(HashMap::new()),
        }
    }

    /// The event bus: "memory" or a nats:// URL.
    pub async fn bus(&self) -> anyhow::Result<Arc<dyn EventBus>> {
        self.bus
            .get_or_try_init(|| open_bus(&self.config))
            .await
            .cloned()
    }

    /// The presence store: "memory" or a redis:// URL.
    pub async fn presence_store(&self) -> anyhow::Result<Arc<dyn PresenceStore>> {
        let uri = self.config.cluster.presence_store.as_str();
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

    /// Where this process keeps its embedded files.
    pub fn files(&self) -> &EmbeddedFiles {
        &self.files
    }

    /// Timelines: on ScyllaDB (shared by every storage instance: any can
    /// take over a conversation, since seq leases are compare-and-set), or
    /// embedded under data_dir (this instance's static shard).
    pub async fn timeline_store(&self) -> anyhow::Result<Arc<dyn TimelineStore>> {
        if let Some(session) = self.scylla().await? {
            return Ok(Arc::new(ScyllaTimelineStore::new(session)));
        }
        let dir = &self.files.timeline;
        let store = FjallTimelineStore::open(dir, self.config.db_cache_bytes() as u64)
            .with_context(|| format!("opening {}", dir.display()))?;
        self.refuse_unimported_timeline(&store)?;
        store.expire_dedup_keys(std::time::Duration::from_secs(
            u64::from(self.config.db_dedup_ttl_days) * 86_400,
        ));
        Ok(Arc::new(store))
    }

    /// Accounts, sessions and signing keys: on ScyllaDB or in a redb file.
    pub async fn auth_store(&self) -> anyhow::Result<Arc<dyn AuthStore>> {
        if let Some(session) = self.scylla().await? {
            return Ok(Arc::new(ScyllaAuthStore::new(session)));
        }
        let db = self.redb(&self.files.accounts)?;
        Ok(Arc::new(RedbAuthStore::new(db)))
    }

    /// The last step of a shutdown: consumers of the stored-event stream
    /// end and what was published is flushed.
    pub async fn close(&self) {
        if let Some(bus) = self.bus.get() {
            bus.close().await;
        }
    }

    async fn scylla(&self) -> anyhow::Result<Option<Arc<ScyllaSession>>> {
        self.scylla
            .get_or_try_init(|| open_scylla(&self.config))
            .await
            .cloned()
    }

    /// One handle per redb file (redb refuses a second open of a file).
    fn redb(&self, path: &Path) -> anyhow::Result<EmbeddedDb> {
        let mut open = self.redb.lock();
        if let Some(db) = open.get(path) {
            return Ok(db.clone());
        }
        let db = EmbeddedDb::open_with_cache(path, self.config.db_cache_bytes())
            .with_context(|| format!("opening {}", path.display()))?;
        open.insert(path.to_path_buf(), db.clone());
        Ok(db)
    }

    /// An empty timeline next to one in the older redb layout would look
    /// like lost history: make the operator import it first.
    fn refuse_unimported_timeline(&self, store: &FjallTimelineStore) -> anyhow::Result<()> {
        let legacy = &self.files.legacy_timeline;
        if !store.is_empty()? || !legacy.exists() {
            return Ok(());
        }
        if holds_redb_timeline(&self.redb(legacy)?)? {
            bail!(
                "{} holds timelines in the layout of an older version, and {} is empty: \
                 run `parley migrate --from-redb` (with the same data_dir) to import them first",
                legacy.display(),
                self.files.timeline.display()
            );
        }
        Ok(())
    }
}

async fn open_bus(config: &Config) -> anyhow::Result<Arc<dyn EventBus>> {
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

/// The ScyllaDB session when `cluster.store` is a scylla:// URI (schema
/// migrated or checked, statements prepared); `None` for the embedded store.
async fn open_scylla(config: &Config) -> anyhow::Result<Option<Arc<ScyllaSession>>> {
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
