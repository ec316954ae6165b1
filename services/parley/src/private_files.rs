//! Files at rest are the owner's alone. `parley.redb` (and `auth.redb`)
//! hold the token-signing key in clear (whoever reads it can mint any
//! user's token) and the password hashes; the timeline holds every
//! message. So the process creates everything owner-only (umask 077), and
//! a data directory or store file left open by an older version or by
//! hand is tightened at startup, with a warning naming it.
//!
//! Encryption at rest (of disks or volumes) is the operator's: see the
//! README's "Data at rest".

use crate::config::Config;
use crate::layout::EmbeddedFiles;
use crate::mode::Mode;
use anyhow::Context;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Every file and directory this process creates from now on is
/// owner-only. Process-wide; a mask of 077 only ever removes permissions.
pub fn owner_only_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates `data_dir` owner-only if missing, and takes group and world
/// access away from it and from the embedded stores in it.
pub fn prepare_data_dir(config: &Config, mode: Mode) -> anyhow::Result<()> {
    owner_only_umask();
    let dir = &config.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data_dir {}", dir.display()))?;
    tighten(dir, 0o700)?;
    let files = EmbeddedFiles::of(config, mode);
    for store in [&files.accounts, &files.legacy_timeline] {
        if store.exists() {
            tighten(store, 0o600)?;
        }
    }
    if files.timeline.exists() {
        tighten_tree(&files.timeline)?;
    }
    Ok(())
}

/// Removes group and world bits from `path` (to at most `max`).
fn tighten(path: &Path, max: u32) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        let fixed = mode & max;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(fixed)) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                was = format!("{mode:o}"),
                now = format!("{fixed:o}"),
                "was open to other users; restricted to its owner"
            ),
            // Not ours to change (a volume's root owned by root, say): say
            // so loudly rather than refuse to start.
            Err(e) => tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                error = %e,
                "open to other users and could not be restricted; fix its permissions"
            ),
        }
    }
    Ok(())
}

fn tighten_tree(dir: &Path) -> anyhow::Result<()> {
    tighten(dir, 0o700)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tighten_tree(&entry.path())?;
        } else if kind.is_file() {
            tighten(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn an_open_data_dir_and_its_stores_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: root.path().join("data"),
            ..Config::default()
        };
        let files = EmbeddedFiles::of(&config, Mode::Embedded);
        // What an older version (umask 022) left behind.
        std::fs::create_dir_all(files.timeline.join("partitions")).unwrap();
        std::fs::write(&files.accounts, "keys").unwrap();
        std::fs::write(files.timeline.join("partitions/seg"), "msgs").unwrap();
        for p in [&config.data_dir, &files.timeline] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::set_permissions(&files.accounts, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare_data_dir(&config, Mode::Embedded).unwrap();
        assert_eq!(mode(&config.data_dir), 0o700);
        assert_eq!(mode(&files.timeline), 0o700);
        assert_eq!(mode(&files.accounts), 0o600);
        assert_eq!(mode(&files.timeline.join("partitions/seg")), 0o600);
        // And what it creates from now on is owner-only.
        let new = config.data_dir.join("new-file");
        std::fs::write(&new, "x").unwrap();
        assert_eq!(mode(&new), 0o600);
        let new_dir = config.data_dir.join("new-dir");
        std::fs::create_dir(&new_dir).unwrap();
        assert_eq!(mode(&new_dir), 0o700);
    }
}
