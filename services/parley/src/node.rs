//! `parley up`: every service in one process, calling each other through
//! the same client types as split mode (local variant), on the backends the
//! configuration names (embedded by default).

use crate::backends::Backends;
use crate::config::Config;
use crate::mode::{self, Mode};
use crate::wire::{self, Clients};
use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use parley_core::services::{AuthClient, FanoutClient, PresenceClient, StorageClient};
use parley_gateway::Gateway;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a shutdown waits for stored events to reach the bus, and then
/// for fanout to deliver what it holds.
const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

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

/// Starts every service, the gateway on `listener`.
pub async fn start_embedded(
    config: Config,
    listener: TcpListener,
    metrics: Option<PrometheusHandle>,
) -> anyhow::Result<RunningNode> {
    mode::check(&config, Mode::Embedded)?;
    crate::private_files::prepare_data_dir(&config, Mode::Embedded)?;
    let addr = listener.local_addr()?;
    let backends = Backends::new(&config, Mode::Embedded);
    let storage = wire::storage(&config, &backends).await?;
    let auth = wire::auth(&config, &backends).await?;
    let presence = wire::presence(&config, &backends).await?;
    let storage_client = StorageClient::local(storage.clone());
    let presence_client = PresenceClient::local(presence);
    let fanout = wire::fanout(
        &config,
        &backends,
        storage_client.clone(),
        presence_client.clone(),
    )
    .await?;
    let clients = Clients {
        storage: storage_client,
        auth: AuthClient::local(auth),
        presence: presence_client,
        fanout: FanoutClient::local(fanout.service.clone()),
    };
    let gateway = wire::gateway(&config, &backends, clients, metrics).await?;
    crate::net::announce(&config, "http", addr)?;

    let stop = CancellationToken::new();
    crate::admin::spawn_admin(&config, stop.clone()).await?;
    let serve = gateway.clone().serve(listener, stop.clone());
    let task = tokio::spawn(async move {
        let served = serve.await;
        // Clients are gone: stored events reach the bus, fanout delivers
        // what is queued, then the stores close (dropped with `backends`
        // and the services).
        if !storage.flush_publications(FLUSH_DEADLINE).await {
            tracing::warn!(
                "stopped with stored events not yet on the bus (clients will sync them)"
            );
        }
        backends.close().await;
        fanout.finish(FLUSH_DEADLINE).await;
        storage.stop_indexing().await;
        drop(storage);
        drop(backends);
        served.map_err(Into::into)
    });
    Ok(RunningNode {
        addr,
        gateway,
        stop,
        task,
    })
}
