//! The dependency rules of ARCHITECTURE.md, checked on every test run
//! instead of by reading: `cargo metadata` for who depends on whom, the
//! members' manifests for where versions are pinned, and the sources for
//! who may act as the system.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates that implement ports against an external system or on disk.
const BACKENDS: &[&str] = &[
    "parley-embedded",
    "parley-nats",
    "parley-redis",
    "parley-scylla",
];
/// External client crates, each wrapped by exactly one Parley crate.
const WRAPPED: &[(&str, &str)] = &[
    ("async-nats", "parley-nats"),
    ("redis", "parley-redis"),
    ("scylla", "parley-scylla"),
];

struct Member {
    name: String,
    dir: PathBuf,
    /// (dependency, kind: "normal" | "dev" | "build")
    deps: Vec<(String, String)>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn members() -> Vec<Member> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Member {
            name: p["name"].as_str().unwrap().to_string(),
            dir: Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf(),
            deps: p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let kind = d["kind"].as_str().unwrap_or("normal").to_string();
                    (d["name"].as_str().unwrap().to_string(), kind)
                })
                .collect(),
        })
        .collect()
}

fn is_service(m: &Member) -> bool {
    m.dir.parent().is_some_and(|p| p.ends_with("services")) && m.name != "parley"
}

#[test]
fn services_depend_on_no_other_service_and_no_backend() {
    let all = members();
    let services: Vec<&str> = all
        .iter()
        .filter(|m| is_service(m))
        .map(|m| m.name.as_str())
        .collect();
    assert!(services.contains(&"parley-storage"), "{services:?}");
    let mut broken = Vec::new();
    for m in all.iter().filter(|m| is_service(m)) {
        for (dep, kind) in &m.deps {
            if services.contains(&dep.as_str()) {
                broken.push(format!("{} depends on the service {dep} ({kind})", m.name));
            }
            // The embedded backends are real in-process backends: a
            // service's own tests may run on them.
            let test_backend = kind == "dev" && dep == "parley-embedded";
            if BACKENDS.contains(&dep.as_str()) && !test_backend {
                broken.push(format!("{} depends on the backend {dep} ({kind})", m.name));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn libraries_depend_on_no_service() {
    let all = members();
    let services: Vec<String> = all
        .iter()
        .filter(|m| m.dir.parent().is_some_and(|p| p.ends_with("services")))
        .map(|m| m.name.clone())
        .collect();
    let broken: Vec<String> = all
        .iter()
        .filter(|m| m.dir.parent().is_some_and(|p| p.ends_with("crates")))
        .flat_map(|m| {
            m.deps
                .iter()
                .filter(|(d, _)| services.contains(d))
                .map(move |(d, k)| format!("{} depends on {d} ({k})", m.name))
        })
        .collect();
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn each_external_system_has_one_crate() {
    let all = members();
    for (external, wrapper) in WRAPPED {
        let users: Vec<&str> = all
            .iter()
            .filter(|m| m.deps.iter().any(|(d, _)| d == external))
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            users,
            vec![*wrapper],
            "only {wrapper} may depend on {external}"
        );
    }
}

#[test]
fn testkit_is_only_ever_a_dev_dependency() {
    let broken: Vec<String> = members()
        .iter()
        .flat_map(|m| {
            m.deps
                .iter()
                .filter(|(d, k)| d == "parley-testkit" && k != "dev")
                .map(move |(_, k)| format!("{} has parley-testkit as a {k} dependency", m.name))
        })
        .collect();
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn every_version_is_pinned_once_in_the_workspace() {
    let mut broken = Vec::new();
    for m in members() {
        let manifest = std::fs::read_to_string(m.dir.join("Cargo.toml")).unwrap();
        let doc: toml::Table = manifest.parse().unwrap();
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = doc.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for (name, spec) in deps {
                let inherited = spec
                    .as_table()
                    .and_then(|t| t.get("workspace"))
                    .and_then(|w| w.as_bool())
                    == Some(true);
                if !inherited {
                    broken.push(format!(
                        "{} [{section}] {name}: use `workspace = true`",
                        m.name
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

/// `Caller::System` skips the membership check: only the services that
/// act as Parley itself (fanout resolving recipients), the storage that
/// interprets it and the crate that defines it may name it. The edge
/// (gateway) never does: its callers are users.
#[test]
fn only_trusted_services_name_the_system_caller() {
    let allowed = [
        "crates/parley-core/src",
        "services/storage/src",
        "services/fanout/src",
    ];
    let root = workspace_root();
    let mut offenders = Vec::new();
    for dir in ["crates", "services", "loadtest"] {
        visit(&root.join(dir), &mut |path| {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let in_tests = rel.contains("/tests/") || rel.contains("/benches/");
            if in_tests || allowed.iter().any(|a| rel.starts_with(a)) {
                return;
            }
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.contains("Caller::System") || text.contains("caller::Kind::System") {
                offenders.push(rel);
            }
        });
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Parley serves internal gRPC only from the composition root, and there
/// every service is behind mutual TLS with the caller's identity attached
/// (`net::internal`); the test-only shortcut that assumes an identity never
/// appears in it.
#[test]
fn every_internal_server_identifies_its_callers() {
    let root = workspace_root();
    let mut offenders = Vec::new();
    visit(&root.join("services/parley/src"), &mut |path| {
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains("assume_peer_in_tests") {
            offenders.push(format!("{rel}: assumes a peer"));
        }
        for (n, line) in text.lines().enumerate() {
            if line.contains(".add_service(") && !line.contains(".add_service(internal(") {
                offenders.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    });
    assert!(offenders.is_empty(), "{offenders:#?}");
}

fn visit(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let mut entries: BTreeMap<PathBuf, bool> = BTreeMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        entries.insert(e.path(), e.path().is_dir());
    }
    for (path, is_dir) in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if is_dir && name != "target" && name != "node_modules" {
            visit(&path, f);
        } else if name.ends_with(".rs") {
            f(&path);
        }
    }
}
