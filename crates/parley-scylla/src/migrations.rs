//! Versioned CQL migrations, embedded in the binary and applied in order.
//! Applied versions are recorded in `schema_migrations`; every statement is
//! idempotent, so a migration interrupted halfway, or two services starting
//! at once, simply apply it again.

use crate::ScyllaError;
use crate::config::{ScyllaConfig, validate_datacenter, validate_keyspace};
use scylla::client::session::Session;

/// One schema version: its number, a name, and its CQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub cql: &'static str,
}

/// Every migration, oldest first. Append only: never edit a released one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        cql: include_str!("../migrations/0001_initial.cql"),
    },
    Migration {
        version: 2,
        name: "reactions",
        cql: include_str!("../migrations/0002_reactions.cql"),
    },
    Migration {
        version: 3,
        name: "pins",
        cql: include_str!("../migrations/0003_pins.cql"),
    },
    Migration {
        version: 4,
        name: "descriptions",
        cql: include_str!("../migrations/0004_descriptions.cql"),
    },
    Migration {
        version: 5,
        name: "member_settings",
        cql: include_str!("../migrations/0005_member_settings.cql"),
    },
    Migration {
        version: 6,
        name: "history_visibility",
        cql: include_str!("../migrations/0006_history_visibility.cql"),
    },
    Migration {
        version: 7,
        name: "records",
        cql: include_str!("../migrations/0007_records.cql"),
    },
    Migration {
        version: 8,
        name: "threads",
        cql: include_str!("../migrations/0008_threads.cql"),
    },
];

const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version int PRIMARY KEY, name text, applied_at_ms bigint)";

/// The keyspace, with NetworkTopologyStrategy in the configured datacenter.
///
/// Tablets are switched off: Scylla's tablets-enabled keyspaces do not
/// support lightweight transactions (in the versions we target), and seq
/// leases, conversation creation, username claims and refresh-token spends
/// all rely on them. Scylla versions without tablets reject the option, so
/// it can be left out (`with_tablets_option = false`).
pub fn create_keyspace_cql(
    keyspace: &str,
    config: &ScyllaConfig,
    with_tablets_option: bool,
) -> Result<String, ScyllaError> {
    validate_keyspace(keyspace).map_err(ScyllaError::Config)?;
    validate_datacenter(&config.datacenter)?;
    if config.replication_factor == 0 {
        return Err(ScyllaError::Config(
            "scylla.replication_factor must be at least 1".into(),
        ));
    }
    let mut cql = format!(
        "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = \
         {{'class': 'NetworkTopologyStrategy', '{}': {}}}",
        config.datacenter, config.replication_factor
    );
    if with_tablets_option {
        cql.push_str(" AND tablets = {'enabled': false}");
    }
    Ok(cql)
}

/// The statements of a migration file: split at `;` ending a line, with
/// `--` comment lines dropped.
pub fn statements(cql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in cql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(trimmed);
        if trimmed.ends_with(';') {
            current.pop();
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// Creates the keyspace if needed, switches `session` to it, and applies
/// every migration not yet recorded. Returns the versions applied now.
pub async fn migrate(
    session: &Session,
    keyspace: &str,
    config: &ScyllaConfig,
) -> Result<Vec<i32>, ScyllaError> {
    let with_tablets = match session
        .query_unpaged(create_keyspace_cql(keyspace, config, true)?, ())
        .await
    {
        Ok(_) => true,
        // Older Scylla (and Cassandra) do not know the tablets option.
        Err(e) if e.to_string().to_lowercase().contains("tablets") => {
            session
                .query_unpaged(create_keyspace_cql(keyspace, config, false)?, ())
                .await?;
            false
        }
        Err(e) => return Err(e.into()),
    };
    tracing::debug!(keyspace, with_tablets, "keyspace ready");
    session.use_keyspace(keyspace, false).await?;
    session.query_unpaged(CREATE_VERSIONS, ()).await?;
    let applied = applied_versions(session).await?;
    let mut now_applied = Vec::new();
    for m in MIGRATIONS {
        if applied.contains(&m.version) {
            continue;
        }
        for statement in statements(m.cql) {
            session.query_unpaged(statement, ()).await?;
        }
        session
            .query_unpaged(
                "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
                (m.version, m.name, now_ms()),
            )
            .await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied schema migration"
        );
        now_applied.push(m.version);
    }
    Ok(now_applied)
}

/// Versions recorded as applied.
pub async fn applied_versions(session: &Session) -> Result<Vec<i32>, ScyllaError> {
    let rows = session
        .query_unpaged("SELECT version FROM schema_migrations", ())
        .await?
        .into_rows_result()
        .map_err(|e| ScyllaError::Decode(e.to_string()))?;
    let mut versions = rows
        .rows::<(i32,)>()
        .map_err(|e| ScyllaError::Decode(e.to_string()))?
        .map(|r| r.map(|(v,)| v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ScyllaError::Decode(e.to_string()))?;
    versions.sort_unstable();
    Ok(versions)
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_and_increasing() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
        }
    }

    #[test]
    fn every_statement_is_idempotent_ddl() {
        for m in MIGRATIONS {
            let stmts = statements(m.cql);
            assert!(!stmts.is_empty());
            for s in stmts {
                assert!(
                    s.starts_with("CREATE TABLE IF NOT EXISTS ")
                        || s.starts_with("CREATE INDEX IF NOT EXISTS ")
                        || s.starts_with("ALTER TABLE "),
                    "not idempotent DDL: {s}"
                );
                assert!(!s.contains(';'), "one statement per split: {s}");
            }
        }
    }

    #[test]
    fn statements_split_at_line_ending_semicolons() {
        let got = statements(
            "-- c\nCREATE TABLE a (\n  x int PRIMARY KEY\n);\n\nCREATE TABLE b (y int PRIMARY KEY);\n",
        );
        assert_eq!(
            got,
            vec![
                "CREATE TABLE a ( x int PRIMARY KEY )",
                "CREATE TABLE b (y int PRIMARY KEY)"
            ]
        );
    }

    #[test]
    fn keyspace_uses_network_topology_without_tablets() {
        let c = ScyllaConfig {
            datacenter: "eu-1".into(),
            replication_factor: 3,
            ..Default::default()
        };
        assert_eq!(
            create_keyspace_cql("parley", &c, true).unwrap(),
            "CREATE KEYSPACE IF NOT EXISTS parley WITH replication = \
             {'class': 'NetworkTopologyStrategy', 'eu-1': 3} AND tablets = {'enabled': false}"
        );
        assert!(
            !create_keyspace_cql("parley", &c, false)
                .unwrap()
                .contains("tablets")
        );
        let zero = ScyllaConfig {
            replication_factor: 0,
            ..c
        };
        assert!(create_keyspace_cql("parley", &zero, true).is_err());
        assert!(create_keyspace_cql("bad name", &ScyllaConfig::default(), true).is_err());
    }
}
