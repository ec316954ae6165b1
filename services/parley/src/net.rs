//! Listeners and channels: the gateway's client listener, the tower stack
//! every gRPC server shares, client channels to other services, and the
//! announcement of bound addresses for launchers.

use crate::config::Config;
use crate::internal_tls::{InternalTls, identify_caller};
use anyhow::{Context, bail};
use parley_core::peer::Peer;
use parley_core::routing::StorageRouter;
use parley_core::services::StorageClient;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::transport::{Channel, Endpoint, Server};

/// Connections a gateway's listener queues before accepting them. A
/// reconnect storm arrives all at once; past the queue, connects wait for a
/// 1 s SYN retransmit (the kernel caps this at net.core.somaxconn).
const GATEWAY_BACKLOG: u32 = 4096;

/// The gateway's client listener, with a backlog sized for connect storms.
pub fn bind_gateway(addr: SocketAddr) -> anyhow::Result<TcpListener> {
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

/// An endpoint of `service` at `url` (https://), over mutual TLS that
/// accepts only that service's certificate.
fn endpoint(url: &str, tls: &InternalTls, service: Peer) -> anyhow::Result<Endpoint> {
    if !url.starts_with("https://") {
        bail!("{url}: internal calls are mutual TLS, so service URLs are https://");
    }
    Ok(Endpoint::from_shared(url.to_string())
        .with_context(|| format!("bad service URL {url}"))?
        .tls_config(tls.client(service))
        .with_context(|| format!("TLS for {url}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .tcp_nodelay(true))
}

/// A lazily connecting gRPC channel (reconnects by itself).
pub fn channel(url: &str, tls: &InternalTls, service: Peer) -> anyhow::Result<Channel> {
    Ok(endpoint(url, tls, service)?.connect_lazy())
}

/// A channel balanced over several instances of a service.
pub fn balanced(urls: &[String], tls: &InternalTls, service: Peer) -> anyhow::Result<Channel> {
    if urls.is_empty() {
        bail!("no service URL configured");
    }
    let endpoints = urls
        .iter()
        .map(|u| endpoint(u, tls, service))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Channel::balance_list(endpoints.into_iter()))
}

/// A storage client that routes each conversation to its owner among
/// `cluster.storage_urls`.
pub fn storage_router(config: &Config, tls: &InternalTls) -> anyhow::Result<StorageClient> {
    if config.cluster.storage_urls.is_empty() {
        bail!("cluster.storage_urls is empty");
    }
    let shards = config
        .cluster
        .storage_urls
        .iter()
        .map(|u| Ok(StorageClient::remote(channel(u, tls, Peer::Storage)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(StorageClient::local(Arc::new(StorageRouter::new(shards))))
}

/// A service as an internal server serves it: each request first gets the
/// identity of the service that sent it, from its verified certificate
/// (the generated adapters refuse requests without one).
pub fn internal<S>(service: S) -> InterceptedService<S, fn(tonic::Request<()>) -> IdentifyResult> {
    InterceptedService::new(service, identify_caller as fn(_) -> _)
}

type IdentifyResult = Result<tonic::Request<()>, tonic::Status>;

/// The shared tower stack of every gRPC server, outermost first, behind
/// mutual TLS: a caller without a certificate of the cluster's CA does not
/// get past the handshake.
pub fn grpc_server(tls: &InternalTls) -> anyhow::Result<Server> {
    Ok(Server::builder()
        .tls_config(tls.server())
        .context("internal TLS")?
        // Every request gets a span with its method.
        .trace_fn(|req| tracing::info_span!("grpc", path = %req.uri().path()))
        // No request holds resources forever.
        .timeout(Duration::from_secs(30))
        // Refuse at once, rather than queue, when a caller saturates us.
        .load_shed(true)
        // Bound the work one caller (connection) can have in flight.
        .concurrency_limit_per_connection(512)
        .tcp_nodelay(true))
}

/// Serves `router` on `cluster.grpc_listen` until `stop`.
pub async fn serve_grpc(
    config: &Config,
    stop: CancellationToken,
    router: Router,
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
fn grpc_incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// With `cluster.announce`, records a bound address in `data_dir/<kind>.addr`
/// (written whole, then renamed into place), so that a launcher can bind
/// port 0 and learn the port instead of guessing a free one.
pub fn announce(config: &Config, kind: &str, addr: SocketAddr) -> anyhow::Result<()> {
    if !config.cluster.announce {
        return Ok(());
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let tmp = config.data_dir.join(format!("{kind}.addr.tmp"));
    std::fs::write(&tmp, addr.to_string())?;
    std::fs::rename(&tmp, config.data_dir.join(format!("{kind}.addr")))?;
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
