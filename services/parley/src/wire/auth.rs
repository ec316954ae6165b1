use crate::backends::Backends;
use crate::config::Config;
use parley_auth::AuthService;
use std::sync::Arc;

/// The auth service on its store; the bus carries session revocations to
/// the gateways (which close the revoked session's sockets).
pub async fn auth(config: &Config, backends: &Backends) -> anyhow::Result<Arc<AuthService>> {
    let store = backends.auth_store().await?;
    let bus = backends.bus().await?;
    Ok(Arc::new(
        AuthService::new(store, bus, config.auth.clone()).await?,
    ))
}
