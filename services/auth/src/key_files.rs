//! Signing keys from files: a directory of PKCS#8 PEM keys, typically a
//! mounted Kubernetes Secret, shared by every auth replica.

use parley_core::{ServiceError, ServiceResult};
use parley_jwt::SigningKey;
use std::path::Path;

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
            let pem = std::fs::read_to_string(p)
                .map_err(|e| bad(format!("reading {}: {e}", p.display())))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| bad(format!("{}: {e}", p.display())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_key(dir: &Path, name: &str) -> SigningKey {
        let key = SigningKey::generate().unwrap();
        std::fs::write(dir.join(name), key.to_pkcs8_pem().unwrap()).unwrap();
        key
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
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("a.pem") && e.contains("PKCS#8"), "{e}");
    }
}
