//! `parley up`: every service in one process, embedded backends, service
//! calls through the same client types as split mode (local variant).

use crate::backends;
use crate::config::Config;
use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use parley_auth::AuthService;
use parley_core::services::{AuthClient, FanoutClient, PresenceClient, StorageClient};
use parley_embedded::{EmbeddedDb, MemoryBus, MemoryPresence, RedbAuthStore, open_timeline};
use parley_fanout::{FANOUT_GROUP, FanoutService, run_stored_worker};
use parley_gateway::{Gateway, GatewayDeps};
use parley_ports::{AuthStore, EventBus, TimelineStore};
use parley_presence::PresenceService;
use parley_storage::StorageService;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running embedded node.
pub struct RunningNode {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningNode {
    /// Drains and stops the node; returns once its data is closed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await.context("node task panicked")?
    }

    /// Resolves when the node stops by itself (it should not).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("node task panicked")?
    }

    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}

/// Starts every service on `listener` with the embedded backends under
/// `config.data_dir`.
pub async fn start_embedded(
    config: Config,
    listener: TcpListener,
    metrics: Option<PrometheusHandle>,
) -> anyhow::Result<RunningNode> {
    let addr = listener.local_addr()?;
    let (timeline, auth_store, db) = match backends::scylla(&config).await? {
        Some(session) => {
            let (timeline, auth) = backends::scylla_stores(&session);
            (timeline, auth, None)
        }
        None => {
            let db = EmbeddedDb::open_with_cache(&config.db_path(), config.db_cache_bytes())
                .with_context(|| format!("opening {}", config.db_path().display()))?;
            let timeline_dir = config.timeline_path();
            let (timeline, _) =
                open_timeline(&timeline_dir, config.db_cache_bytes() as u64, Some(&db))
                    .await
                    .with_context(|| format!("opening {}", timeline_dir.display()))?;
            let timeline: Arc<dyn TimelineStore> = Arc::new(timeline);
            let auth: Arc<dyn AuthStore> = Arc::new(RedbAuthStore::new(db.clone()));
            (timeline, auth, Some(db))
        }
    };
    let memory_bus = MemoryBus::new();
    let bus: Arc<dyn EventBus> = Arc::new(memory_bus.clone());

    let storage = Arc::new(StorageService::new(
        timeline,
        bus.clone(),
        config.storage.clone(),
    ));
    let auth = Arc::new(AuthService::new(auth_store, bus.clone(), config.auth.clone()).await?);
    let presence = Arc::new(PresenceService::new(
        Arc::new(MemoryPresence::new()),
        &config.presence,
    ));
    let (storage_c, presence_c) = (
        StorageClient::local(storage),
        PresenceClient::local(presence),
    );
    let fanout = Arc::new(FanoutService::new(
        storage_c.clone(),
        presence_c.clone(),
        bus.clone(),
    ));

    // Join the stored-event stream before anything can be stored.
    let consumer = bus.consume_stored(FANOUT_GROUP).await?;
    let worker_stop = CancellationToken::new();
    let worker = tokio::spawn(run_stored_worker(
        fanout.clone(),
        consumer,
        worker_stop.clone(),
    ));

    let deps = GatewayDeps {
        storage: storage_c,
        auth: AuthClient::local(auth),
        presence: presence_c,
        fanout: FanoutClient::local(fanout),
        bus: bus.clone(),
        metrics,
        token_issuer: config.auth.issuer.clone(),
        token_audience: config.auth.audience.clone(),
        presence_heartbeat: config.presence.heartbeat_interval(),
    };
    let gateway = Gateway::new(deps, config.gateway.clone()).await?;
    let stop = CancellationToken::new();
    let serve = gateway.clone().serve(listener, stop.clone());
    let task = tokio::spawn(async move {
        let served = serve.await;
        // Clients are gone: let fanout finish what is queued, then close.
        memory_bus.close().await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), worker).await;
        worker_stop.cancel();
        drop(db);
        served.map_err(Into::into)
    });
    Ok(RunningNode {
        addr,
        gateway,
        stop,
        task,
    })
}
