//! The gateway's accept loop: hyper's HTTP/1 server with the limits that
//! `axum::serve` does not set. Without a timer hyper applies no header
//! timeout at all, so a client trickling its headers, or a silent socket,
//! held a connection (and a file descriptor) forever.
//!
//! - `http_header_timeout_secs`: a request's headers must arrive within it.
//!   hyper starts that clock whenever a connection waits for a request, so
//!   it is also the keep-alive idle timeout.
//! - `http_request_timeout_secs` (applied in `http.rs`): body and answer of
//!   an HTTP request.
//! - the connection cap and the per-address cap of unauthenticated
//!   connections (`admission.rs`), refused with a short 503 / 429 that says
//!   so instead of a hang or a reset.

use crate::admission::{Admission, Refused};
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

pub(crate) struct HttpLimits {
    pub(crate) header_timeout: Duration,
}

/// Serves `app` on `listener` until `stop`; then asks every connection to
/// finish its request and waits for them (the caller bounds the wait).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    admission: Arc<Admission>,
    limits: HttpLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept:
                    // back off a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        // Small frames must not wait for Nagle's algorithm (it adds up to a
        // delayed-ACK period, ~40 ms, to a request/reply round trip).
        let _ = tcp.set_nodelay(true);
        let admitted = match admission.admit(peer.ip()) {
            Ok(a) => a,
            Err(why) => {
                connections.spawn(refuse(tcp, why));
                continue;
            }
        };
        let app = app.clone();
        let stop = stop.clone();
        let header_timeout = limits.header_timeout;
        connections.spawn(async move {
            let held = admitted.clone();
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(held.clone());
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                app.clone().oneshot(req.map(Body::new))
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = http
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(admitted);
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

/// A one-line answer for a connection that is not taken, then close.
async fn refuse(mut tcp: TcpStream, why: Refused) {
    let (status, body, counter) = match why {
        Refused::Full => (
            "503 Service Unavailable",
            "the server is at its connection limit; retry shortly\n",
            "full",
        ),
        Refused::Address => (
            "429 Too Many Requests",
            "too many connections from your address that have not signed in\n",
            "address",
        ),
    };
    metrics::counter!("parley_gateway_connections_refused_total", "reason" => counter).increment(1);
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\nretry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}
