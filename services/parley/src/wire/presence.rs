use crate::backends::Backends;
use crate::config::Config;
use parley_presence::PresenceService;
use std::sync::Arc;

/// The presence service on its store.
pub async fn presence(
    config: &Config,
    backends: &Backends,
) -> anyhow::Result<Arc<PresenceService>> {
    let store = backends.presence_store().await?;
    Ok(Arc::new(PresenceService::new(store, &config.presence)))
}
