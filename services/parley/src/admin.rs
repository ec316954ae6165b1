//! The admin endpoints of a process (`parley up` or one split-mode
//! service): /metrics, /healthz, /readyz on `cluster.admin_listen`, a port
//! that is not exposed to clients. The gateway's public listener keeps
//! /healthz and /readyz for load balancers, and /metrics only behind
//! `gateway.metrics_token`.

use crate::config::Config;
use crate::net::announce;
use anyhow::Context;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves them on `cluster.admin_listen` (if set) until `stop`; readiness
/// turns 503 as soon as `stop` is cancelled.
pub async fn spawn_admin(config: &Config, stop: CancellationToken) -> anyhow::Result<()> {
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
