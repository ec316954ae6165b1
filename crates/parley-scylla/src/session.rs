//! One driver session per process, shared by the timeline and auth stores.

use crate::ScyllaError;
use crate::config::{ScyllaConfig, ScyllaUri};
use crate::migrations;
use crate::statements::Prepared;
use futures::TryStreamExt;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::deserialize::row::DeserializeRow;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::policies::retry::DefaultRetryPolicy;
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use std::sync::Arc;
use std::time::Duration;

/// A connected session, switched to Parley's keyspace, with every
/// statement prepared.
pub struct ScyllaSession {
    pub(crate) session: Session,
    pub(crate) prepared: Prepared,
    pub(crate) config: ScyllaConfig,
}

pub fn parse_consistency(name: &str) -> Result<Consistency, ScyllaError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "local_quorum" => Consistency::LocalQuorum,
        "quorum" => Consistency::Quorum,
        "each_quorum" => Consistency::EachQuorum,
        "local_one" => Consistency::LocalOne,
        "one" => Consistency::One,
        "all" => Consistency::All,
        other => {
            return Err(ScyllaError::Config(format!(
                "scylla.consistency {other:?} is not one of local_quorum, quorum, \
                 each_quorum, local_one, one, all"
            )));
        }
    })
}

/// The default execution profile: configured consistency (LOCAL_SERIAL for
/// the Paxos phase of lightweight transactions), token-aware routing that
/// prefers the local datacenter, a client-side timeout, and the driver's
/// default retry policy, which retries only statements marked idempotent.
fn profile(config: &ScyllaConfig) -> Result<ExecutionProfile, ScyllaError> {
    let balancing = DefaultPolicy::builder()
        .prefer_datacenter(config.datacenter.clone())
        .token_aware(true)
        .permit_dc_failover(false)
        .build();
    Ok(ExecutionProfile::builder()
        .consistency(parse_consistency(&config.consistency)?)
        .serial_consistency(Some(SerialConsistency::LocalSerial))
        .request_timeout(Some(config.request_timeout()))
        .load_balancing_policy(balancing)
        .retry_policy(Arc::new(DefaultRetryPolicy::new()))
        .build())
}

/// A session builder for `uri` with Parley's settings (for tests that need
/// to adjust it before connecting).
pub fn builder(uri: &ScyllaUri, config: &ScyllaConfig) -> Result<SessionBuilder, ScyllaError> {
    let mut b = SessionBuilder::new()
        .known_nodes(&uri.nodes)
        .default_execution_profile_handle(profile(config)?.into_handle())
        .connection_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    match (&config.username, &config.password) {
        (Some(u), Some(p)) => b = b.user(u, p),
        (None, None) => {}
        _ => {
            return Err(ScyllaError::Config(
                "set both scylla.username and scylla.password, or neither".into(),
            ));
        }
    }
    Ok(b)
}

impl ScyllaSession {
    /// Connects to the cluster in `uri` and, when `config.migrate_on_start`,
    /// brings the schema up to date; otherwise checks that it is.
    pub async fn connect(uri: &str, config: ScyllaConfig) -> Result<Arc<Self>, ScyllaError> {
        let uri = ScyllaUri::parse(uri)?;
        let session = builder(&uri, &config)?.build().await?;
        Self::open(session, &uri.keyspace, config).await
    }

    /// Finishes opening an already connected session.
    pub async fn open(
        session: Session,
        keyspace: &str,
        config: ScyllaConfig,
    ) -> Result<Arc<Self>, ScyllaError> {
        Self::open_substituting(session, keyspace, config, &[]).await
    }

    /// [`Self::open`] for a partial test stand-in of ScyllaDB: the
    /// statements named in `unsupported` are not prepared (see
    /// [`Prepared::prepare_substituting`]).
    #[doc(hidden)]
    pub async fn open_substituting(
        session: Session,
        keyspace: &str,
        config: ScyllaConfig,
        unsupported: &[&str],
    ) -> Result<Arc<Self>, ScyllaError> {
        if config.migrate_on_start {
            migrations::migrate(&session, keyspace, &config).await?;
        } else {
            session.use_keyspace(keyspace, false).await?;
            let found = migrations::applied_versions(&session)
                .await?
                .last()
                .copied()
                .unwrap_or(0);
            let needed = migrations::latest_version();
            if found < needed {
                return Err(ScyllaError::SchemaBehind { found, needed });
            }
        }
        let prepared = Prepared::prepare_substituting(&session, unsupported).await?;
        Ok(Arc::new(Self {
            session,
            prepared,
            config,
        }))
    }
}

impl ScyllaSession {
    /// All rows of a paged read.
    pub(crate) async fn rows<R>(
        &self,
        stmt: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Vec<R>, ScyllaError>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm> + 'static,
    {
        let pager = self.session.execute_iter(stmt.clone(), values).await?;
        let rows = pager
            .rows_stream::<R>()
            .map_err(|e| ScyllaError::Decode(e.to_string()))?;
        Ok(rows.try_collect().await?)
    }

    /// The first row of a point read, if any.
    pub(crate) async fn first<R>(
        &self,
        stmt: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Option<R>, ScyllaError>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm>,
    {
        self.session
            .execute_unpaged(stmt, values)
            .await?
            .into_rows_result()
            .map_err(|e| ScyllaError::Decode(e.to_string()))?
            .maybe_first_row::<R>()
            .map_err(|e| ScyllaError::Decode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_names_parse_and_bad_ones_say_what_is_allowed() {
        assert_eq!(
            parse_consistency("LOCAL_QUORUM").unwrap(),
            Consistency::LocalQuorum
        );
        assert_eq!(parse_consistency("one").unwrap(), Consistency::One);
        let e = parse_consistency("serial").unwrap_err().to_string();
        assert!(e.contains("local_quorum"), "{e}");
    }

    #[test]
    fn credentials_come_in_pairs() {
        let uri = ScyllaUri::parse("scylla://db").unwrap();
        let half = ScyllaConfig {
            username: Some("u".into()),
            ..Default::default()
        };
        assert!(builder(&uri, &half).is_err());
        assert!(builder(&uri, &ScyllaConfig::default()).is_ok());
    }
}
