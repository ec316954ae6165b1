//! Signing keys from files: a directory of PKCS#8 PEM keys, typically a
//! mounted Kubernetes Secret, shared by every auth replica.

use parley_core::{ServiceError, ServiceResult};
use parley_jwt::SigningKey;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whoever reads a signing key can mint any user's token, so a key file is
/// refused when others could read or change it: readable by all, writable
/// by anyone but its owner, owned by someone other than this process's
/// user (or root, which owns a mounted Kubernetes Secret), or in a
/// directory anyone may change. A key readable by its group (a Secret
/// mounted with `defaultMode: 0440` and the pod's fsGroup) is allowed with
/// a warning. Symlinks are followed, as a mounted Secret's keys are links.
pub fn check_private(dir: &Path, path: &Path) -> Result<(), String> {
    let d = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    const STICKY: u32 = 0o1000;
    if d.mode() & 0o002 != 0 && d.mode() & STICKY == 0 {
        return Err(format!(
            "{} is writable by every user (mode {:o}): anyone could replace the keys; chmod o-w it",
            dir.display(),
            d.mode() & 0o7777
        ));
    }
    let m = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = m.mode() & 0o777;
    if mode & 0o026 != 0 {
        return Err(format!(
            "{} has mode {mode:o}: a private key must not be readable by all or writable by others (chmod 600 it)",
            path.display()
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if m.uid() != me && m.uid() != 0 {
        return Err(format!(
            "{} belongs to user {}, not to this process's user ({me}) or root",
            path.display(),
            m.uid()
        ));
    }
    if mode & 0o040 != 0 {
        tracing::warn!(
            file = %path.display(),
            gid = m.gid(),
            "private key readable by its group: make sure only Parley runs in that group"
        );
    }
    Ok(())
}

/// Every `*.pem` key in `dir`, in file-name order (the last one signs).
/// Hidden entries are skipped: a mounted Secret keeps its own `..data`
/// links beside the keys.
pub fn load(dir: &Path) -> ServiceResult<Vec<SigningKey>> {
    let bad = |why: String| ServiceError::Internal(format!("auth.signing_keys_dir: {why}"));
    let entries =
        std::fs::read_dir(dir).map_err(|e| bad(format!("reading {}: {e}", dir.display())))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| bad(e.to_string()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with('.') && name.ends_with(".pem") {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(bad(format!("no *.pem key in {}", dir.display())));
    }
    paths
        .iter()
        .map(|p| {
            check_private(dir, p).map_err(bad)?;
            let pem = std::fs::read_to_string(p)
                .map_err(|e| bad(format!("reading {}: {e}", p.display())))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| bad(format!("{}: {e}", p.display())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn write_key(dir: &Path, name: &str) -> SigningKey {
        let key = SigningKey::generate().unwrap();
        std::fs::write(dir.join(name), key.to_pkcs8_pem().unwrap()).unwrap();
        chmod(&dir.join(name), 0o600);
        key
    }

    #[test]
    fn keys_others_could_read_or_change_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_key(dir.path(), "k.pem");
        let key = dir.path().join("k.pem");
        for mode in [0o644, 0o666, 0o604, 0o620] {
            chmod(&key, mode);
            let e = load(dir.path()).unwrap_err().to_string();
            assert!(e.contains(&format!("mode {mode:o}")), "{e}");
        }
        // Group-readable (a Secret with the pod's fsGroup) loads.
        chmod(&key, 0o440);
        load(dir.path()).unwrap();
        // A directory anyone may write to is refused, whatever the key's mode.
        chmod(&key, 0o600);
        chmod(dir.path(), 0o777);
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("writable by every user"), "{e}");
        // Sticky (others cannot replace what is there) is a shared mount.
        chmod(dir.path(), 0o1777);
        load(dir.path()).unwrap();
    }

    #[test]
    fn keys_load_in_name_order_and_the_last_signs() {
        let dir = tempfile::tempdir().unwrap();
        let newer = write_key(dir.path(), "2026-12.pem");
        let older = write_key(dir.path(), "2026-11.pem");
        std::fs::write(dir.path().join("README"), "not a key").unwrap();
        std::fs::create_dir(dir.path().join("..data")).unwrap();
        let keys = load(dir.path()).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid().to_string()).collect();
        assert_eq!(kids, vec![older.kid().to_string(), newer.kid().to_string()]);
    }

    #[test]
    fn an_empty_or_missing_dir_or_a_bad_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no *.pem key"), "{e}");
        let e = load(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(e.contains("reading"), "{e}");
        std::fs::write(dir.path().join("a.pem"), "junk").unwrap();
        chmod(&dir.path().join("a.pem"), 0o600);
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("a.pem") && e.contains("PKCS#8"), "{e}");
    }
}
