use super::Clients;
use crate::backends::Backends;
use crate::config::Config;
use metrics_exporter_prometheus::PrometheusHandle;
use parley_gateway::{Gateway, GatewayDeps};
use std::sync::Arc;
use std::time::Duration;

/// How long a gateway waits for auth's JWKS at startup (auth may still be
/// starting in split mode).
const AUTH_WAIT: Duration = Duration::from_secs(30);

/// The gateway over the other services' clients, subscribed to user
/// deliveries on the bus.
pub async fn gateway(
    config: &Config,
    backends: &Backends,
    clients: Clients,
    metrics: Option<PrometheusHandle>,
) -> anyhow::Result<Arc<Gateway>> {
    let deps = GatewayDeps {
        storage: clients.storage,
        auth: clients.auth,
        presence: clients.presence,
        fanout: clients.fanout,
        bus: backends.bus().await?,
        metrics,
        token_issuer: config.auth.issuer.clone(),
        token_audience: config.auth.audience.clone(),
        token_max_lifetime_secs: config.auth.access_token_ttl_secs,
        presence_heartbeat: config.presence.heartbeat_interval(),
    };
    let deadline = tokio::time::Instant::now() + AUTH_WAIT;
    loop {
        match Gateway::new(deps.clone(), config.gateway.clone()).await {
            Ok(g) => return Ok(g),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "waiting for auth");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
