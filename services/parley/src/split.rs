//! One service per process, serving its gRPC API. Each uses remote clients
//! for the services it calls.

use crate::config::Config;
use anyhow::{Context, bail};
use parley_core::services::{AuthGrpc, PresenceGrpc};
use parley_presence::PresenceService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint, Server};

/// The services `parley <service>` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceName {
    Gateway,
    Auth,
    Presence,
    Fanout,
    Storage,
}

/// A lazily connecting gRPC channel with a per-call timeout.
pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_string())
        .with_context(|| format!("bad service URL {url}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy())
}

/// Runs one service until `stop`.
pub async fn run_service(
    name: ServiceName,
    config: Config,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    match name {
        ServiceName::Presence => {
            let svc = Arc::new(PresenceService::new(
                Arc::new(parley_embedded::MemoryPresence::new()),
                &config.presence,
            ));
            serve_grpc(&config, stop, |s| {
                s.add_service(PresenceGrpc(svc).into_service())
            })
            .await
        }
        ServiceName::Auth if config.cluster.bus == "memory" => {
            // Auth can run alone on the memory bus: only the "close revoked
            // sessions" signal needs a shared bus, and is lost without one.
            tracing::warn!(
                "auth on the memory bus cannot close revoked sessions on gateways in other processes"
            );
            let db = parley_embedded::EmbeddedDb::open(&config.db_path())?;
            let bus = Arc::new(parley_embedded::MemoryBus::new());
            let svc = Arc::new(
                parley_auth::AuthService::new(
                    Arc::new(parley_embedded::RedbAuthStore::new(db)),
                    bus,
                    config.auth.clone(),
                )
                .await?,
            );
            serve_grpc(&config, stop, |s| {
                s.add_service(AuthGrpc(svc).into_service())
            })
            .await
        }
        other => bail!(
            "`parley {}` needs a bus shared between processes (cluster.bus = \"nats://...\"), \
             which this build does not have yet; use `parley up` to run everything in one process",
            format!("{other:?}").to_lowercase()
        ),
    }
}

async fn serve_grpc(
    config: &Config,
    stop: CancellationToken,
    add: impl FnOnce(&mut Server) -> tonic::transport::server::Router,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.cluster.grpc_listen)
        .await
        .with_context(|| format!("binding {}", config.cluster.grpc_listen))?;
    tracing::info!(addr = %listener.local_addr()?, "gRPC listening");
    let mut server = Server::builder();
    let router = add(&mut server);
    router
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            stop.cancelled_owned(),
        )
        .await?;
    Ok(())
}
