use crate::backends::Backends;
use crate::config::Config;
use anyhow::bail;
use parley_storage::StorageService;
use std::sync::Arc;

/// The storage service on its timeline store, publishing stored events on
/// the bus.
pub async fn storage(config: &Config, backends: &Backends) -> anyhow::Result<Arc<StorageService>> {
    let settings = config.storage.clone();
    if let Some(i) = settings.shard_index
        && i >= settings.shard_count
    {
        bail!(
            "storage.shard_index {i} is not below storage.shard_count {}",
            settings.shard_count
        );
    }
    let timeline = backends.timeline_store().await?;
    let bus = backends.bus().await?;
    Ok(Arc::new(StorageService::new(timeline, bus, settings)))
}
