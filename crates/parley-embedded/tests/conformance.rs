//! The embedded backends against the port conformance suites.

use parley_embedded::{EmbeddedDb, MemoryBus, MemoryPresence, RedbAuthStore, RedbTimelineStore};
use parley_ports::conformance;
use parley_ports::{ReadRange, TimelineStore};
use parley_proto::v1 as pb;
use std::sync::Arc;
use std::time::Duration;

fn db() -> (tempfile::TempDir, EmbeddedDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = EmbeddedDb::open(&dir.path().join("parley.redb")).unwrap();
    (dir, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_timeline_store_conforms() {
    let (_dir, db) = db();
    conformance::timeline::run(Arc::new(RedbTimelineStore::new(db))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_auth_store_conforms() {
    let (_dir, db) = db();
    conformance::auth::run(Arc::new(RedbAuthStore::new(db))).await;
}

#[tokio::test(start_paused = true)]
async fn memory_presence_conforms() {
    let ttl = Duration::from_secs(30);
    conformance::presence::run(Arc::new(MemoryPresence::new()), ttl, || {
        tokio::time::advance(Duration::from_secs(31))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bus_conforms() {
    conformance::bus::run(Arc::new(MemoryBus::new())).await;
}

#[tokio::test]
async fn timeline_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parley.redb");
    let ev = pb::Event {
        conversation_id: "c".into(),
        seq: 1,
        sender_id: "a".into(),
        client_msg_id: "m".into(),
        ..Default::default()
    };
    {
        let store = RedbTimelineStore::new(EmbeddedDb::open(&path).unwrap());
        store.lease_seqs("c", 100).await.unwrap();
        store.append(std::slice::from_ref(&ev)).await.unwrap();
    }
    let store = RedbTimelineStore::new(EmbeddedDb::open(&path).unwrap());
    let all = ReadRange {
        from: 1,
        to: 10,
        limit: 10,
        backward: false,
    };
    assert_eq!(store.read_range("c", all).await.unwrap(), vec![ev]);
    assert_eq!(store.dedup_lookup("c", "a", "m").await.unwrap(), Some(1));
    assert_eq!(
        store.lease_seqs("c", 1).await.unwrap(),
        101..102,
        "leases continue after a restart"
    );
}
