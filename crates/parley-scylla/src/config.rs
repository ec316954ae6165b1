//! Settings of the ScyllaDB store: where the cluster is (a `scylla://` URI)
//! and how Parley talks to it (the `[scylla]` config section).

use crate::ScyllaError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The `[scylla]` section of Parley's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScyllaConfig {
    /// The local datacenter: requests go to its nodes first (token-aware
    /// within it), and the keyspace's replication names it.
    pub datacenter: String,
    /// Replicas per datacenter when Parley creates the keyspace: 3 for
    /// production, 1 for a single dev node. Ignored if the keyspace exists.
    pub replication_factor: u32,
    /// Consistency of reads and writes: "local_quorum" (default),
    /// "quorum", "local_one", "one", "each_quorum" or "all".
    pub consistency: String,
    /// Client-side timeout of one request, retries included.
    pub request_timeout_ms: u64,
    /// How long a (conversation, sender, client_msg_id) dedup key is kept:
    /// a client retrying a send within this window gets its original seq.
    pub dedup_ttl_days: u32,
    /// Apply pending schema migrations when a service starts (they are
    /// idempotent). Turn off to run `parley migrate` from a deploy job.
    pub migrate_on_start: bool,
    /// Credentials for PasswordAuthenticator (none when unset).
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Default for ScyllaConfig {
    fn default() -> Self {
        Self {
            datacenter: "datacenter1".into(),
            replication_factor: 3,
            consistency: "local_quorum".into(),
            request_timeout_ms: 5_000,
            dedup_ttl_days: 7,
            migrate_on_start: true,
            username: None,
            password: None,
        }
    }
}

impl ScyllaConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    /// The dedup TTL in seconds, as CQL wants it (an int).
    pub fn dedup_ttl_secs(&self) -> i32 {
        i32::try_from(u64::from(self.dedup_ttl_days.max(1)) * 86_400).unwrap_or(i32::MAX)
    }
}

/// A parsed `scylla://host[:port][,host[:port]...][/keyspace]` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScyllaUri {
    /// Contact points as `host:port` (port 9042 when omitted).
    pub nodes: Vec<String>,
    pub keyspace: String,
}

pub const DEFAULT_KEYSPACE: &str = "parley";

impl ScyllaUri {
    pub fn parse(uri: &str) -> Result<Self, ScyllaError> {
        let bad = |why: &str| ScyllaError::Config(format!("bad ScyllaDB URI {uri:?}: {why}"));
        let rest = uri
            .strip_prefix("scylla://")
            .ok_or_else(|| bad("it must start with scylla://"))?;
        if rest.contains('@') || rest.contains('?') {
            return Err(bad(
                "put credentials and options in the [scylla] section, not in the URI",
            ));
        }
        let (hosts, keyspace) = match rest.split_once('/') {
            Some((h, k)) if !k.is_empty() => (h, k),
            Some((h, _)) => (h, DEFAULT_KEYSPACE),
            None => (rest, DEFAULT_KEYSPACE),
        };
        validate_keyspace(keyspace).map_err(|e| bad(&e))?;
        let mut nodes = Vec::new();
        for host in hosts.split(',') {
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            nodes.push(with_port(host).ok_or_else(|| bad(&format!("bad port in {host:?}")))?);
        }
        Ok(Self {
            nodes,
            keyspace: keyspace.to_string(),
        })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` as `host:port` (9042 by
/// default); `None` when a port is present but not a port number.
fn with_port(host: &str) -> Option<String> {
    let port = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.1.strip_prefix(':'),
        None => host.split_once(':').map(|(_, p)| p),
    };
    match port {
        Some(p) => p.parse::<u16>().ok().map(|_| host.to_string()),
        None if host.ends_with(']') || !host.contains(':') => Some(format!("{host}:9042")),
        None => None,
    }
}

/// Keyspace names become part of CQL text, so only plain identifiers pass.
pub fn validate_keyspace(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "keyspace {name:?} must be 1-48 letters, digits or _, starting with a letter"
        ))
    }
}

/// Datacenter names are quoted into the keyspace's replication map.
pub fn validate_datacenter(name: &str) -> Result<(), ScyllaError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ScyllaError::Config(format!(
            "scylla.datacenter {name:?} must be letters, digits, '_', '-' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_with_defaults() {
        let u = ScyllaUri::parse("scylla://db").unwrap();
        assert_eq!(u.nodes, vec!["db:9042"]);
        assert_eq!(u.keyspace, "parley");
        let u = ScyllaUri::parse("scylla://a:9000,b,[::1]:9043,[::1]/chat_1").unwrap();
        assert_eq!(
            u.nodes,
            vec!["a:9000", "b:9042", "[::1]:9043", "[::1]:9042"]
        );
        assert_eq!(u.keyspace, "chat_1");
        assert_eq!(ScyllaUri::parse("scylla://a/").unwrap().keyspace, "parley");
    }

    #[test]
    fn bad_uris_are_refused_with_the_reason() {
        for (uri, why) in [
            ("redis://a", "scylla://"),
            ("scylla://", "empty host"),
            ("scylla://a,,b", "empty host"),
            ("scylla://a:x", "bad port"),
            ("scylla://a:70000", "bad port"),
            ("scylla://a/bad-name", "keyspace"),
            ("scylla://a/x;drop", "keyspace"),
            ("scylla://u:p@a", "[scylla] section"),
            ("scylla://a?rf=3", "[scylla] section"),
        ] {
            let e = ScyllaUri::parse(uri).unwrap_err().to_string();
            assert!(e.contains(why), "{uri}: {e}");
        }
    }

    #[test]
    fn datacenter_names_cannot_break_out_of_quotes() {
        assert!(validate_datacenter("eu-west-1").is_ok());
        assert!(validate_datacenter("dc1'}; DROP").is_err());
        assert!(validate_datacenter("").is_err());
    }

    #[test]
    fn dedup_ttl_is_days_in_seconds() {
        let c = ScyllaConfig::default();
        assert_eq!(c.dedup_ttl_secs(), 7 * 86_400);
        let c = ScyllaConfig {
            dedup_ttl_days: u32::MAX,
            ..c
        };
        assert_eq!(c.dedup_ttl_secs(), i32::MAX);
    }
}
