use crate::config::Config;
use crate::layout::EmbeddedFiles;
use anyhow::{Context, bail};
use parley_embedded::{EmbeddedDb, FjallTimelineStore, holds_redb_timeline, import_redb_timeline};

/// `parley migrate`: applies pending schema migrations to the ScyllaDB
/// store named by cluster.store (idempotent).
pub async fn scylla_schema(config: &Config) -> anyhow::Result<()> {
    let Some(uri) = config.scylla_uri() else {
        bail!(
            "cluster.store is {:?}: migrations are for a scylla:// store (the embedded \
             store needs none; `parley migrate --from-redb` imports timelines an older \
             version kept in redb)",
            config.cluster.store
        );
    };
    let applied = parley_scylla::migrate(uri, &config.scylla).await?;
    let latest = parley_scylla::migrations::latest_version();
    if applied.is_empty() {
        println!("Schema is up to date (version {latest}).");
    } else {
        println!("Applied schema versions {applied:?}; now at version {latest}.");
    }
    Ok(())
}

/// `parley migrate --from-redb`: imports into the fjall timeline store the
/// timelines a version before it kept in a redb file under data_dir
/// (`parley.redb` of `parley up`, `storage.redb` of `parley storage`).
/// Run it with Parley stopped; the redb tables are left as they were.
pub async fn from_redb(config: &Config) -> anyhow::Result<()> {
    let mut found = false;
    for files in EmbeddedFiles::every_layout(config) {
        if !files.legacy_timeline.exists() {
            continue;
        }
        let db = EmbeddedDb::open_with_cache(&files.legacy_timeline, config.db_cache_bytes())
            .with_context(|| format!("opening {}", files.legacy_timeline.display()))?;
        if !holds_redb_timeline(&db)? {
            continue;
        }
        found = true;
        let store = FjallTimelineStore::open(&files.timeline, config.db_cache_bytes() as u64)
            .with_context(|| format!("opening {}", files.timeline.display()))?;
        if !store.is_empty()? {
            println!(
                "{} already holds timelines: nothing imported from {}.",
                files.timeline.display(),
                files.legacy_timeline.display()
            );
            continue;
        }
        let rows = import_redb_timeline(&db, &store).await?;
        println!(
            "Imported {rows} rows from {} into {}.",
            files.legacy_timeline.display(),
            files.timeline.display()
        );
    }
    if !found {
        println!(
            "No timeline of the older redb layout in {}: nothing to import.",
            config.data_dir.display()
        );
    }
    Ok(())
}
