//! Configuration: built-in defaults, then an optional TOML file, then
//! environment variables `PARLEY_*` (nested keys joined by `__`, e.g.
//! `PARLEY_GATEWAY__RATE_PER_SEC=50`).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use parley_auth::AuthConfig;
use parley_fanout::FanoutConfig;
use parley_gateway::GatewayConfig;
use parley_presence::PresenceConfig;
use parley_scylla::ScyllaConfig;
use parley_storage::StorageConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the gateway's HTTP/WebSocket listener.
    pub listen: SocketAddr,
    /// Directory of the embedded database (created if missing).
    pub data_dir: PathBuf,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins when set.
    pub log: String,
    /// Page cache of the embedded database, in MiB.
    pub db_cache_mib: usize,
    /// How long the embedded timeline remembers a send's client message id,
    /// so a retry gets its original seq (0: for ever; ScyllaDB has its own,
    /// `scylla.dedup_ttl_days`).
    pub db_dedup_ttl_days: u32,
    pub gateway: GatewayConfig,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub presence: PresenceConfig,
    pub fanout: FanoutConfig,
    pub cluster: ClusterConfig,
    /// How Parley talks to ScyllaDB when `cluster.store` is a scylla:// URI.
    pub scylla: ScyllaConfig,
}

/// Split mode: where each service listens, where the others are, and the
/// shared backends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// gRPC listener of the service this process runs.
    pub grpc_listen: SocketAddr,
    pub auth_url: String,
    /// Every storage instance, in shard-map order: conversation ownership is
    /// rendezvous hashing over these positions, and each instance keeps its
    /// conversations on its own disk, so never reorder or remove entries.
    pub storage_urls: Vec<String>,
    pub presence_url: String,
    /// Every fanout instance (calls are balanced across them).
    pub fanout_urls: Vec<String>,
    /// Event bus: "memory" (one process only) or "nats://host:port"
    /// (NATS 2.10+ with JetStream), which services in different processes share.
    pub bus: String,
    /// Presence store: "memory" (one presence instance) or "redis://host:port".
    pub presence_store: String,
    /// Timelines and accounts: "embedded" (on this instance's disk, under
    /// data_dir) or "scylla://host:port[,host:port...][/keyspace]", shared by
    /// every storage and auth instance.
    pub store: String,
    /// A stored event a fanout worker took but did not ack is redelivered
    /// after this long (NATS bus).
    pub stored_ack_wait_secs: u64,
    /// Replicas of the JetStream stream of stored events, set when Parley
    /// creates it: 3 on a 3-node NATS cluster, so a server loss loses no
    /// event not yet fanned out.
    pub stream_replicas: usize,
    /// Where this process serves /metrics, /healthz and /readyz (none when
    /// unset). Keep it off the public network: the gateway's `listen` serves
    /// /metrics only with `gateway.metrics_token`.
    pub admin_listen: Option<SocketAddr>,
    /// Write each bound address to `data_dir/{grpc,admin,http}.addr`
    /// (for launchers that bind port 0).
    pub announce: bool,
    /// Split mode: a directory with the cluster CA (`ca.crt`) and this
    /// service's certificate and key (`tls.crt`, `tls.key`: a Kubernetes
    /// TLS Secret's layout). Every internal gRPC call is mutual TLS with
    /// these; `parley certs` makes them. Required in split mode.
    pub tls_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid"),
            data_dir: PathBuf::from("parley-data"),
            log: "info".into(),
            db_cache_mib: 64,
            db_dedup_ttl_days: 7,
            gateway: GatewayConfig::default(),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            presence: PresenceConfig::default(),
            fanout: FanoutConfig::default(),
            cluster: ClusterConfig::default(),
            scylla: ScyllaConfig::default(),
        }
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            grpc_listen: "127.0.0.1:7000".parse().expect("valid"),
            auth_url: "https://127.0.0.1:7001".into(),
            storage_urls: vec!["https://127.0.0.1:7002".into()],
            presence_url: "https://127.0.0.1:7003".into(),
            fanout_urls: vec!["https://127.0.0.1:7004".into()],
            bus: "memory".into(),
            presence_store: "memory".into(),
            store: "embedded".into(),
            stored_ack_wait_secs: 30,
            stream_replicas: 1,
            admin_listen: None,
            announce: false,
            tls_dir: None,
        }
    }
}

const REDACTED: &str = "<redacted>";

/// `scheme://user:password@host/...` with the password replaced.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let user = if userinfo.contains(':') {
                format!("{user}:{REDACTED}")
            } else {
                REDACTED.to_string()
            };
            format!("{scheme}://{user}@{host}{path}")
        }
        None => url.to_string(),
    }
}

impl Config {
    /// This configuration with its secrets replaced, for printing
    /// (`parley config`) and logs: the ScyllaDB password, the metrics token
    /// and any password inside a backend URL.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        if c.scylla.password.is_some() {
            c.scylla.password = Some(REDACTED.into());
        }
        if c.gateway.metrics_token.is_some() {
            c.gateway.metrics_token = Some(REDACTED.into());
        }
        for p in &mut c.auth.oidc_providers {
            if p.client_secret.is_some() {
                p.client_secret = Some(REDACTED.into());
            }
        }
        c.cluster.bus = redact_url(&c.cluster.bus);
        c.cluster.presence_store = redact_url(&c.cluster.presence_store);
        c.cluster.store = redact_url(&c.cluster.store);
        c
    }

    /// Defaults < file (if given) < environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        Self::load_with_env(file, Env::prefixed("PARLEY_").split("__"))
    }

    fn load_with_env(file: Option<&Path>, env: Env) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "config file {} does not exist",
                    f.display()
                ))));
            }
            fig = fig.merge(Toml::file(f));
        }
        // PARLEY_CONFIG names the file; it is not a setting itself. Neither
        // are PARLEY_NATS_SERVER / PARLEY_REDIS_SERVER (which binaries
        // `parley cluster` and the tests start) nor PARLEY_TEST_* (the test
        // suites' switches, e.g. PARLEY_TEST_SCYLLA).
        let env = env
            .ignore(&["config", "nats_server", "redis_server"])
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"));
        fig.merge(env).extract().map_err(Box::new)
    }

    /// The ScyllaDB URI when timelines and accounts live there.
    pub fn scylla_uri(&self) -> Option<&str> {
        self.cluster
            .store
            .starts_with("scylla://")
            .then_some(self.cluster.store.as_str())
    }

    pub fn db_cache_bytes(&self) -> usize {
        self.db_cache_mib.max(1) * 1024 * 1024
    }
}

#[cfg(test)]
// figment::Jail's closures return figment's (large) error type by design.
#[allow(clippy::result_large_err)]
mod tests {

    #[test]
    fn printing_the_config_hides_its_secrets() {
        let mut c = Config::default();
        c.scylla.password = Some("hunter2".into());
        c.gateway.metrics_token = Some("tok".into());
        c.cluster.bus = "nats://parley:natspass@nats:4222".into();
        c.cluster.presence_store = "redis://:redispass@redis:6379/0".into();
        c.auth.oidc_providers.push(parley_auth::OidcProvider {
            client_secret: Some("idp-secret".into()),
            ..Default::default()
        });
        let printed = format!(
            "{:?}{}",
            c.redacted(),
            serde_json::to_string(&c.redacted()).unwrap()
        );
        for secret in ["hunter2", "tok\"", "natspass", "redispass", "idp-secret"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert_eq!(
            c.redacted().cluster.bus,
            "nats://parley:<redacted>@nats:4222"
        );
        assert_eq!(redact_url("memory"), "memory");
        assert_eq!(redact_url("redis://redis:6379"), "redis://redis:6379");
        assert_eq!(
            redact_url("nats://token@nats:4222"),
            "nats://<redacted>@nats:4222"
        );
    }

    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "parley.toml",
                "listen = \"127.0.0.1:9000\"\n[gateway]\nrate_per_sec = 7\n",
            )?;
            jail.set_env("PARLEY_GATEWAY__RATE_BURST", "9");
            jail.set_env("PARLEY_DATA_DIR", "/tmp/x");
            let c = Config::load(Some(Path::new("parley.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.gateway.rate_per_sec, 7);
            assert_eq!(c.gateway.rate_burst, 9);
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
            assert_eq!(c.storage.seq_lease_size, 100);
            Ok(())
        });
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/parley.example.toml");
        let c =
            Config::load_with_env(Some(&example), Env::prefixed("PARLEY_TEST_NOTHING_")).unwrap();
        assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn launcher_and_test_switches_in_the_environment_are_not_settings() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PARLEY_TEST_SCYLLA", "127.0.0.1:9042");
            jail.set_env("PARLEY_NATS_SERVER", "/opt/nats/nats-server");
            jail.set_env("PARLEY_REDIS_SERVER", "/opt/redis/redis-server");
            jail.set_env("PARLEY_CLUSTER__STORE", "scylla://db:9042/chat");
            jail.set_env("PARLEY_SCYLLA__REPLICATION_FACTOR", "1");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.scylla_uri(), Some("scylla://db:9042/chat"));
            assert_eq!(c.scylla.replication_factor, 1);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[gateway]\nrate_per_secc = 7\n")?;
            assert!(Config::load(Some(Path::new("bad.toml"))).is_err());
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }
}
