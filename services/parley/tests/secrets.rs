//! Secrets at rest: what a node leaves on disk is its owner's alone, and key
//! material others could read is refused.

mod common;

use common::TestNode;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt};
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_its_data_dir_owner_only() {
    let node = TestNode::start().await;
    let (_alice, _) = node.user("alice").await;
    let dir = node.data_dir();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        mode(&dir.join("parley.redb")),
        0o600,
        "signing key and hashes"
    );
    let mut stack = vec![dir.join("timeline")];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                assert_eq!(mode(&p) & 0o077, 0, "{}", p.display());
            }
        }
    }
    assert!(files > 0);
}

#[test]
fn keygen_into_a_shell_redirect_makes_the_file_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k1.pem");
    // What `parley keygen > k1.pem` gets from a shell with umask 022.
    let file = std::fs::File::create(&path).unwrap();
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("keygen")
        .stdout(file)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&path), 0o600);
    let pem = std::fs::read_to_string(&path).unwrap();
    parley_jwt::SigningKey::from_pkcs8_pem(&pem).expect("a usable key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_readable_signing_key_is_refused_at_startup() {
    let keys = tempfile::tempdir().unwrap();
    let key = parley_jwt::SigningKey::generate().unwrap();
    let path = keys.path().join("k1.pem");
    std::fs::write(&path, key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = parley::Config {
        data_dir: data.path().to_path_buf(),
        ..parley::Config::default()
    };
    config.auth.signing_keys_dir = Some(keys.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = match parley::start_embedded(config.clone(), listener, None).await {
        Ok(_) => panic!("started with a world-readable key"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("k1.pem") && err.contains("mode 644"), "{err}");
    // Owner-only, it loads.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = parley::start_embedded(config, listener, None)
        .await
        .unwrap();
    node.shutdown().await.unwrap();
}
