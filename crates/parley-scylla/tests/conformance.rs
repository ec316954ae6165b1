//! The timeline and auth conformance suites against a real ScyllaDB node,
//! run whenever `PARLEY_TEST_SCYLLA=host:port` is set. No ScyllaDB can run
//! on the development and CI machines, so there these tests report that
//! they were skipped; see docs for what has and has not run against a server.

use parley_ports::conformance;
use parley_scylla::{ScyllaAuthStore, ScyllaConfig, ScyllaSession, ScyllaTimelineStore};
use std::sync::Arc;

async fn session() -> Option<Arc<ScyllaSession>> {
    let Ok(addr) = std::env::var("PARLEY_TEST_SCYLLA") else {
        eprintln!("PARLEY_TEST_SCYLLA is not set: skipped (no ScyllaDB server here)");
        return None;
    };
    // A fresh keyspace per run; a single test node has one replica.
    let keyspace = format!("parley_test_{}", uuid::Uuid::new_v4().simple());
    let config = ScyllaConfig {
        replication_factor: 1,
        ..Default::default()
    };
    let uri = format!("scylla://{addr}/{keyspace}");
    Some(
        ScyllaSession::connect(&uri, config)
            .await
            .unwrap_or_else(|e| panic!("connecting to {uri}: {e}")),
    )
}

#[tokio::test]
async fn timeline_store_conforms() {
    if let Some(s) = session().await {
        conformance::timeline::run(Arc::new(ScyllaTimelineStore::new(s))).await;
    }
}

#[tokio::test]
async fn auth_store_conforms() {
    if let Some(s) = session().await {
        conformance::auth::run(Arc::new(ScyllaAuthStore::new(s))).await;
    }
}

#[tokio::test]
async fn migrations_are_idempotent_against_a_server() {
    let Ok(addr) = std::env::var("PARLEY_TEST_SCYLLA") else {
        eprintln!("PARLEY_TEST_SCYLLA is not set: skipped (no ScyllaDB server here)");
        return;
    };
    let keyspace = format!("parley_test_{}", uuid::Uuid::new_v4().simple());
    let uri = format!("scylla://{addr}/{keyspace}");
    let config = ScyllaConfig {
        replication_factor: 1,
        ..Default::default()
    };
    let first = parley_scylla::migrate(&uri, &config).await.unwrap();
    assert_eq!(first, vec![parley_scylla::migrations::latest_version()]);
    assert!(
        parley_scylla::migrate(&uri, &config)
            .await
            .unwrap()
            .is_empty()
    );
}
