//! One service per process (`parley gateway|auth|presence|fanout|storage`).
//! Each serves its API (gRPC; HTTP/WebSocket for the gateway) and reaches
//! the others through remote clients and the shared bus.

use crate::backends;
use crate::config::Config;
use anyhow::{Context, bail};
use parley_auth::AuthService;
use parley_core::routing::StorageRouter;
use parley_core::services::{
    AuthClient, AuthGrpc, FanoutClient, FanoutGrpc, PresenceClient, PresenceGrpc, StorageClient,
    StorageGrpc,
};
use parley_embedded::{EmbeddedDb, RedbAuthStore, open_timeline};
use parley_fanout::{FANOUT_GROUP, FanoutService, run_stored_worker};
use parley_gateway::{Gateway, GatewayDeps};
use parley_ports::{AuthStore, TimelineStore};
use parley_presence::PresenceService;
use parley_storage::StorageService;
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

fn endpoint(url: &str) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from_shared(url.to_string())
        .with_context(|| format!("bad service URL {url}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .tcp_nodelay(true))
}

/// A lazily connecting gRPC channel (reconnects by itself).
pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(endpoint(url)?.connect_lazy())
}

/// A channel balanced over several instances of a service.
pub fn balanced(urls: &[String]) -> anyhow::Result<Channel> {
    if urls.is_empty() {
        bail!("no service URL configured");
    }
    let endpoints = urls
        .iter()
        .map(|u| endpoint(u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Channel::balance_list(endpoints.into_iter()))
}

/// The storage settings of an instance, checked: its shard index must be
/// a position of a shard map of `shard_count` instances.
fn storage_config(config: &Config) -> anyhow::Result<parley_storage::StorageConfig> {
    let c = config.storage.clone();
    if let Some(i) = c.shard_index
        && i >= c.shard_count
    {
        bail!(
            "storage.shard_index {i} is not below storage.shard_count {}",
            c.shard_count
        );
    }
    Ok(c)
}

/// Connections a gateway's listener queues before accepting them. A
/// reconnect storm arrives all at once; past the queue, connects wait for a
/// 1 s SYN retransmit (the kernel caps this at net.core.somaxconn).
const GATEWAY_BACKLOG: u32 = 4096;

/// The gateway's client listener, with a backlog sized for connect storms.
pub fn bind_gateway(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding {addr}"))?;
    Ok(socket.listen(GATEWAY_BACKLOG)?)
}

/// A storage client that routes each conversation to its owner.
pub fn storage_router(config: &Config) -> anyhow::Result<StorageClient> {
    if config.cluster.storage_urls.is_empty() {
        bail!("cluster.storage_urls is empty");
    }
    let shards = config
        .cluster
        .storage_urls
        .iter()
        .map(|u| Ok(StorageClient::remote(channel(u)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(StorageClient::local(Arc::new(StorageRouter::new(shards))))
}

/// The shared tower stack of every gRPC server, outermost first.
fn grpc_server() -> Server {
    Server::builder()
        // Every request gets a span with its method.
        .trace_fn(|req| tracing::info_span!("grpc", path = %req.uri().path()))
        // No request holds resources forever.
        .timeout(Duration::from_secs(30))
        // Refuse at once, rather than queue, when a caller saturates us.
        .load_shed(true)
        // Bound the work one caller (connection) can have in flight.
        .concurrency_limit_per_connection(512)
        .tcp_nodelay(true)
}

async fn serve(
    config: &Config,
    stop: CancellationToken,
    router: tonic::transport::server::Router,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.cluster.grpc_listen)
        .await
        .with_context(|| format!("binding {}", config.cluster.grpc_listen))?;
    tracing::info!(addr = %listener.local_addr()?, "gRPC listening");
    announce(config, "grpc", listener.local_addr()?)?;
    router
        .serve_with_incoming_shutdown(grpc_incoming(listener), stop.cancelled_owned())
        .await?;
    Ok(())
}

/// The connections a gRPC server accepts, with Nagle's algorithm off. The
/// builder's `tcp_nodelay` applies only to listeners tonic binds itself;
/// without this every small reply waited for the peer's delayed ACK
/// (~40 ms per call: a split-mode fanout worker managed ~25 events/s).
fn grpc_incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// With `cluster.announce`, records a bound address in `data_dir/<kind>.addr`
/// (written whole, then renamed into place), so that a launcher can bind
/// port 0 and learn the port instead of guessing a free one.
fn announce(config: &Config, kind: &str, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    if !config.cluster.announce {
        return Ok(());
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let tmp = config.data_dir.join(format!("{kind}.addr.tmp"));
    std::fs::write(&tmp, addr.to_string())?;
    std::fs::rename(&tmp, config.data_dir.join(format!("{kind}.addr")))?;
    Ok(())
}

/// Serves /metrics, /healthz and /readyz on `cluster.admin_listen` until
/// `stop` (readiness turns 503 first).
async fn spawn_admin(config: &Config, stop: CancellationToken) -> anyhow::Result<()> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let Some(addr) = config.cluster.admin_listen else {
        return Ok(());
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    announce(config, "admin", listener.local_addr()?)?;
    let metrics = crate::telemetry::prometheus();
    let ready = stop.clone();
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = !ready.is_cancelled();
                async move {
                    if ready {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "draining")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let body = metrics.as_ref().map(|m| m.render()).unwrap_or_default();
                async move { body }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok(())
}

/// Runs one service until `stop`.
pub async fn run_service(
    name: ServiceName,
    config: Config,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if name != ServiceName::Gateway {
        spawn_admin(&config, stop.clone()).await?;
    }
    match name {
        ServiceName::Presence => {
            let store = backends::presence_store(&config).await?;
            let svc = Arc::new(PresenceService::new(store, &config.presence));
            serve(
                &config,
                stop,
                grpc_server().add_service(PresenceGrpc(svc).into_service()),
            )
            .await
        }
        ServiceName::Auth => {
            let store: Arc<dyn AuthStore> = match backends::scylla(&config).await? {
                Some(session) => backends::scylla_stores(&session).1,
                None => Arc::new(RedbAuthStore::new(EmbeddedDb::open_with_cache(
                    &config.data_dir.join("auth.redb"),
                    config.db_cache_bytes(),
                )?)),
            };
            let bus = backends::bus(&config).await?;
            let svc = Arc::new(AuthService::new(store, bus, config.auth.clone()).await?);
            serve(
                &config,
                stop,
                grpc_server().add_service(AuthGrpc(svc).into_service()),
            )
            .await
        }
        ServiceName::Storage => {
            let timeline = match backends::scylla(&config).await? {
                // Shared: any instance can take over a conversation (seq
                // leases are compare-and-set, so seqs are never reused).
                Some(session) => backends::scylla_stores(&session).0,
                None => embedded_storage_timeline(&config).await?,
            };
            let bus = backends::bus(&config).await?;
            let svc = Arc::new(StorageService::new(timeline, bus, storage_config(&config)?));
            serve(
                &config,
                stop,
                grpc_server().add_service(StorageGrpc(svc.clone()).into_service()),
            )
            .await?;
            if !svc.flush_publications(Duration::from_secs(10)).await {
                tracing::warn!(
                    "stopped with stored events not yet on the bus (clients will sync them)"
                );
            }
            Ok(())
        }
        ServiceName::Fanout => {
            let bus = backends::bus(&config).await?;
            let storage = storage_router(&config)?;
            let presence = PresenceClient::remote(channel(&config.cluster.presence_url)?);
            let fanout = Arc::new(FanoutService::new(storage, presence, bus.clone()));
            let consumer = bus.consume_stored(FANOUT_GROUP).await?;
            let worker_stop = CancellationToken::new();
            let worker = tokio::spawn(run_stored_worker(
                fanout.clone(),
                consumer,
                worker_stop.clone(),
            ));
            let served = serve(
                &config,
                stop,
                grpc_server().add_service(FanoutGrpc(fanout).into_service()),
            )
            .await;
            worker_stop.cancel();
            let _ = worker.await;
            served
        }
        ServiceName::Gateway => run_gateway(config, stop).await,
    }
}

/// A storage instance's own embedded timeline: a static shard. This
/// instance owns the conversations in its data_dir; ownership cannot move
/// to an instance without the data. An older version kept the shard in
/// storage.redb: imported once.
async fn embedded_storage_timeline(config: &Config) -> anyhow::Result<Arc<dyn TimelineStore>> {
    let legacy_path = config.data_dir.join("storage.redb");
    let legacy = legacy_path
        .exists()
        .then(|| EmbeddedDb::open_with_cache(&legacy_path, config.db_cache_bytes()))
        .transpose()?;
    let (timeline, _) = open_timeline(
        &config.data_dir.join("storage-timeline"),
        config.db_cache_bytes() as u64,
        legacy.as_ref(),
    )
    .await?;
    Ok(Arc::new(timeline))
}

async fn run_gateway(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    if config.cluster.bus == "memory" {
        bail!(
            "a gateway in its own process needs the shared bus: set cluster.bus to a nats:// URL"
        );
    }
    let deps = GatewayDeps {
        storage: storage_router(&config)?,
        auth: AuthClient::remote(channel(&config.cluster.auth_url)?),
        presence: PresenceClient::remote(channel(&config.cluster.presence_url)?),
        fanout: FanoutClient::remote(balanced(&config.cluster.fanout_urls)?),
        bus: backends::bus(&config).await?,
        metrics: crate::telemetry::prometheus(),
        token_issuer: config.auth.issuer.clone(),
        token_audience: config.auth.audience.clone(),
        presence_heartbeat: config.presence.heartbeat_interval(),
    };
    // Auth may still be starting: its JWKS is needed before serving.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let gateway = loop {
        match Gateway::new(deps.clone(), config.gateway.clone()).await {
            Ok(g) => break g,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "waiting for auth");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let listener = bind_gateway(config.listen)?;
    println!("gateway listening on http://{}/", listener.local_addr()?);
    announce(&config, "http", listener.local_addr()?)?;
    gateway.serve(listener, stop).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn grpc_connections_are_accepted_without_nagle() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = grpc_incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
