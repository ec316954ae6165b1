//! The two ways to run Parley, and the settings each one honours. A
//! setting a mode would ignore is refused at startup, with the reason,
//! never silently dropped.

use crate::config::Config;
use anyhow::bail;
use std::collections::BTreeSet;

/// The services `parley <service>` can run: the identities of the
/// cluster's certificates, one enum for both.
pub use parley_core::peer::Peer as ServiceName;

/// Services that publish to or consume from the event bus, and so need the
/// shared one when they run in processes of their own.
fn uses_bus(service: ServiceName) -> bool {
    !matches!(service, ServiceName::Presence)
}

/// How this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `parley up`: every service in this process.
    Embedded,
    /// `parley <service>`: one service; the others are reached over gRPC.
    Split(ServiceName),
}

impl Mode {
    /// "up" or the name of a service (as on the command line).
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        let service = match name {
            "up" => return Ok(Self::Embedded),
            "gateway" => ServiceName::Gateway,
            "auth" => ServiceName::Auth,
            "presence" => ServiceName::Presence,
            "fanout" => ServiceName::Fanout,
            "storage" => ServiceName::Storage,
            other => bail!("no mode {other:?}: up, gateway, auth, presence, fanout or storage"),
        };
        Ok(Self::Split(service))
    }
}

/// Settings only split mode reads: where services listen and find each
/// other, the shard map.
const SPLIT_ONLY: &[&str] = &[
    "cluster.grpc_listen",
    "cluster.auth_url",
    "cluster.storage_urls",
    "cluster.presence_url",
    "cluster.fanout_urls",
    "cluster.tls_dir",
    "storage.shard_index",
    "storage.shard_count",
];

/// Settings of the NATS bus.
const NATS_ONLY: &[&str] = &["cluster.stored_ack_wait_secs", "cluster.stream_replicas"];

/// Refuses settings `mode` would not honour, naming each and why.
pub fn check(config: &Config, mode: Mode) -> anyhow::Result<()> {
    let changed = changed_keys(config);
    let mut refused = Vec::new();
    let mut refuse = |prefixes: &[&str], why: &str| {
        for key in &changed {
            if prefixes
                .iter()
                .any(|p| key == p || key.starts_with(&format!("{p}.")))
            {
                refused.push(format!("{key}: {why}"));
            }
        }
    };
    if mode == Mode::Embedded {
        refuse(
            SPLIT_ONLY,
            "a split-mode setting; `parley up` runs every service in this process",
        );
    }
    if config.cluster.bus == "memory" {
        refuse(NATS_ONLY, "applies to a nats:// bus (cluster.bus)");
    }
    if config.scylla_uri().is_none() {
        refuse(&["scylla"], "applies when cluster.store is a scylla:// URI");
    }
    if let Mode::Split(service) = mode
        && uses_bus(service)
        && config.cluster.bus == "memory"
    {
        refused.push(format!(
            "cluster.bus = \"memory\": `parley {}` in its own process needs the bus the other services share; set a nats:// URL",
            service.name()
        ));
    }
    if let Mode::Split(_) = mode {
        refused.extend(split_security(config, mode));
    }
    if refused.is_empty() {
        return Ok(());
    }
    let what = match mode {
        Mode::Embedded => "`parley up`".to_string(),
        Mode::Split(s) => format!("`parley {}`", s.name()),
    };
    bail!(
        "settings {what} does not honour:\n  - {}",
        refused.join("\n  - ")
    )
}

/// What split mode, the production topology, requires: mutual TLS between
/// the services (so the URLs of the others are https://) and credentials
/// for every shared backend the service uses, so that no caller anywhere
/// is anonymous.
fn split_security(config: &Config, mode: Mode) -> Vec<String> {
    let mut refused = Vec::new();
    if config.cluster.tls_dir.is_none() {
        refused.push(
            "cluster.tls_dir is unset: in split mode services call each other over mutual TLS; `parley certs --out DIR` makes a CA and a certificate per service".to_string(),
        );
    }
    let c = &config.cluster;
    let urls = std::iter::once(("cluster.auth_url", &c.auth_url))
        .chain(std::iter::once(("cluster.presence_url", &c.presence_url)))
        .chain(c.storage_urls.iter().map(|u| ("cluster.storage_urls", u)))
        .chain(c.fanout_urls.iter().map(|u| ("cluster.fanout_urls", u)));
    for (key, url) in urls {
        if !url.starts_with("https://") {
            refused.push(format!(
                "{key}: {url:?} must be an https:// URL (internal calls are mutual TLS)"
            ));
        }
    }
    // The shared backends authenticate Parley too.
    let has_secret = |url: &str| {
        url.split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .is_some_and(|(userinfo, _)| !userinfo.is_empty() && !userinfo.contains('/'))
    };
    let Mode::Split(service) = mode else {
        return refused;
    };
    if uses_bus(service) && c.bus.starts_with("nats://") && !has_secret(&c.bus) {
        refused.push(
            "cluster.bus has no credentials: use nats://user:password@host:4222 (NATS authorization)".to_string(),
        );
    }
    if service == ServiceName::Presence
        && c.presence_store.starts_with("redis://")
        && !has_secret(&c.presence_store)
    {
        refused.push(
            "cluster.presence_store has no password: use redis://[user]:password@host:6379 (requirepass or an ACL user)".to_string(),
        );
    }
    if matches!(service, ServiceName::Auth | ServiceName::Storage)
        && config.scylla_uri().is_some()
        && (config.scylla.username.is_none() || config.scylla.password.is_none())
    {
        refused.push(
            "scylla.username and scylla.password are required in split mode (ScyllaDB PasswordAuthenticator)".to_string(),
        );
    }
    refused
}

/// Dotted keys whose value differs from the default.
fn changed_keys(config: &Config) -> BTreeSet<String> {
    let (Ok(now), Ok(default)) = (
        serde_json::to_value(config),
        serde_json::to_value(Config::default()),
    ) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    diff("", &now, &default, &mut out);
    out
}

fn diff(
    path: &str,
    now: &serde_json::Value,
    default: &serde_json::Value,
    out: &mut BTreeSet<String>,
) {
    match (now, default) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in a {
                let key = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(&key, v, b.get(k).unwrap_or(&serde_json::Value::Null), out);
            }
        }
        (a, b) if a != b => {
            out.insert(path.to_string());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_run_parley_up() {
        check(&Config::default(), Mode::Embedded).unwrap();
    }

    #[test]
    fn parley_up_refuses_split_mode_settings_by_name() {
        let mut c = Config::default();
        c.cluster.auth_url = "https://auth:7001".into();
        c.cluster.tls_dir = Some("/etc/parley/tls".into());
        c.storage.shard_index = Some(0);
        let err = check(&c, Mode::Embedded).unwrap_err().to_string();
        assert!(err.contains("cluster.auth_url"), "{err}");
        assert!(err.contains("storage.shard_index"), "{err}");
        assert!(err.contains("cluster.tls_dir"), "{err}");
        // The same settings are what split mode runs on.
        c.cluster.bus = "nats://parley:pw@127.0.0.1:4222".into();
        check(&c, Mode::Split(ServiceName::Storage)).unwrap();
    }

    #[test]
    fn parley_up_honours_its_backends() {
        let mut c = Config::default();
        c.cluster.bus = "nats://127.0.0.1:4222".into();
        c.cluster.presence_store = "redis://127.0.0.1:6379".into();
        c.cluster.stream_replicas = 3;
        c.cluster.announce = true;
        check(&c, Mode::Embedded).unwrap();
    }

    #[test]
    fn backend_settings_without_their_backend_are_refused() {
        let mut c = Config::default();
        c.cluster.stream_replicas = 3;
        c.scylla.replication_factor = 1;
        let err = check(&c, Mode::Embedded).unwrap_err().to_string();
        assert!(err.contains("cluster.stream_replicas"), "{err}");
        assert!(err.contains("scylla.replication_factor"), "{err}");
    }

    #[test]
    fn split_services_that_use_the_bus_need_a_shared_one() {
        let mut c = Config::default();
        c.cluster.tls_dir = Some("/etc/parley/tls".into());
        for s in [
            ServiceName::Gateway,
            ServiceName::Auth,
            ServiceName::Fanout,
            ServiceName::Storage,
        ] {
            let err = check(&c, Mode::Split(s)).unwrap_err().to_string();
            assert!(err.contains("cluster.bus"), "{err}");
        }
        check(&c, Mode::Split(ServiceName::Presence)).unwrap();
    }

    #[test]
    fn split_mode_requires_mutual_tls() {
        let mut c = Config::default();
        c.cluster.fanout_urls = vec!["http://fanout:7004".into()];
        let err = check(&c, Mode::Split(ServiceName::Presence))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster.tls_dir is unset"), "{err}");
        assert!(
            err.contains("\"http://fanout:7004\" must be an https:// URL"),
            "{err}"
        );
        c.cluster.tls_dir = Some("/etc/parley/tls".into());
        c.cluster.fanout_urls = vec!["https://fanout:7004".into()];
        check(&c, Mode::Split(ServiceName::Presence)).unwrap();
    }

    #[test]
    fn split_mode_requires_credentials_for_every_backend() {
        let mut c = Config::default();
        c.cluster.tls_dir = Some("/etc/parley/tls".into());
        c.cluster.bus = "nats://nats:4222".into();
        c.cluster.presence_store = "redis://redis:6379".into();
        c.cluster.store = "scylla://scylla:9042".into();
        let err = check(&c, Mode::Split(ServiceName::Storage))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster.bus has no credentials"), "{err}");
        assert!(err.contains("scylla.username and scylla.password"), "{err}");
        assert!(
            !err.contains("presence_store"),
            "storage does not use it: {err}"
        );
        let err = check(&c, Mode::Split(ServiceName::Presence))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cluster.presence_store has no password"),
            "{err}"
        );
        assert!(!err.contains("scylla"), "presence does not use it: {err}");
        c.cluster.bus = "nats://parley:pw@nats:4222".into();
        c.cluster.presence_store = "redis://:pw@redis:6379".into();
        c.scylla.username = Some("parley".into());
        c.scylla.password = Some("pw".into());
        check(&c, Mode::Split(ServiceName::Storage)).unwrap();
        check(&c, Mode::Split(ServiceName::Presence)).unwrap();
    }
}
