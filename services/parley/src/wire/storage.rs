use crate::backends::Backends;
use crate::config::Config;
use anyhow::{Context, bail};
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
    let search = settings.search;
    let mut service = StorageService::new(timeline, bus, settings);
    if search {
        let dir = &backends.files().search;
        let index = parley_search::SearchIndex::open(dir)
            .with_context(|| format!("opening the search index in {}", dir.display()))?;
        service = service.with_search(Arc::new(index));
    }
    Ok(Arc::new(service))
}
