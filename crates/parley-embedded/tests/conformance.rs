//! The embedded backends against the port conformance suites.

use parley_embedded::{
    EmbeddedDb, FjallTimelineStore, MemoryBus, MemoryPresence, RedbAuthStore, RedbTimelineStore,
};
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
async fn fjall_timeline_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallTimelineStore::open(&dir.path().join("timeline"), 8 << 20).unwrap();
    conformance::timeline::run(Arc::new(store)).await;
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

/// What a store acknowledged is there after it is closed and opened again
/// (`open` opens the same files each time), and leases continue.
async fn survives_reopen(open: impl Fn() -> Arc<dyn TimelineStore>) {
    let ev = pb::Event {
        conversation_id: "c".into(),
        seq: 1,
        sender_id: "a".into(),
        client_msg_id: "m".into(),
        ..Default::default()
    };
    {
        let store = open();
        store.lease_seqs("c", 100).await.unwrap();
        store.append(std::slice::from_ref(&ev)).await.unwrap();
        // Dropped without any explicit flush.
    }
    let store = open();
    let all = ReadRange {
        from: 1,
        to: 10,
        limit: 10,
        backward: false,
    };
    assert_eq!(store.read_range("c", all).await.unwrap(), vec![ev]);
    assert_eq!(store.dedup_lookup("c", "a", "m").await.unwrap(), Some(1));
    assert_eq!(store.head("c").await.unwrap(), 1);
    assert_eq!(
        store.lease_seqs("c", 1).await.unwrap(),
        101..102,
        "leases continue after a restart"
    );
}

#[tokio::test]
async fn redb_timeline_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parley.redb");
    survives_reopen(|| Arc::new(RedbTimelineStore::new(EmbeddedDb::open(&path).unwrap()))).await;
}

#[tokio::test]
async fn fjall_timeline_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeline");
    survives_reopen(|| Arc::new(FjallTimelineStore::open(&path, 1 << 20).unwrap())).await;
}

#[tokio::test]
async fn a_redb_timeline_is_imported_once_into_a_new_fjall_store() {
    let dir = tempfile::tempdir().unwrap();
    let redb = EmbeddedDb::open(&dir.path().join("parley.redb")).unwrap();
    let old = RedbTimelineStore::new(redb.clone());
    let conv = pb::Conversation {
        id: "c".into(),
        title: "old".into(),
        ..Default::default()
    };
    old.create_conversation(&conv).await.unwrap();
    let member = pb::Member {
        user_id: "u".into(),
        role: pb::Role::Owner as i32,
        read_seq: 0,
    };
    old.put_members("c", std::slice::from_ref(&member))
        .await
        .unwrap();
    old.lease_seqs("c", 100).await.unwrap();
    let events: Vec<pb::Event> = (1..=3)
        .map(|seq| pb::Event {
            conversation_id: "c".into(),
            seq,
            sender_id: "u".into(),
            client_msg_id: format!("m{seq}"),
            ..Default::default()
        })
        .collect();
    old.append(&events).await.unwrap();
    old.set_read("c", "u", 2).await.unwrap();

    assert!(parley_embedded::holds_redb_timeline(&redb).unwrap());
    let path = dir.path().join("timeline");
    let store = FjallTimelineStore::open(&path, 1 << 20).unwrap();
    let rows = parley_embedded::import_redb_timeline(&redb, &store)
        .await
        .unwrap();
    assert!(rows >= 8, "{rows} rows imported");
    assert_eq!(store.conversation("c").await.unwrap().unwrap().title, "old");
    assert_eq!(store.member("c", "u").await.unwrap().unwrap().read_seq, 2);
    assert_eq!(
        store.user_conversations("u").await.unwrap(),
        vec!["c".to_string()]
    );
    assert_eq!(store.dedup_lookup("c", "u", "m3").await.unwrap(), Some(3));
    assert_eq!(store.head("c").await.unwrap(), 3);
    let all = ReadRange {
        from: 1,
        to: 10,
        limit: 10,
        backward: false,
    };
    assert_eq!(store.read_range("c", all).await.unwrap(), events);
    assert_eq!(store.lease_seqs("c", 1).await.unwrap(), 101..102);
    // A store that holds a timeline is never imported into.
    assert!(
        parley_embedded::import_redb_timeline(&redb, &store)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_redb_timeline_larger_than_a_chunk_streams_in_whole() {
    let dir = tempfile::tempdir().unwrap();
    let redb = EmbeddedDb::open(&dir.path().join("parley.redb")).unwrap();
    let old = RedbTimelineStore::new(redb.clone());
    let conv = pb::Conversation {
        id: "big".into(),
        ..Default::default()
    };
    old.create_conversation(&conv).await.unwrap();
    old.lease_seqs("big", 50_000).await.unwrap();
    let n = 45_000u64;
    for start in (1..=n).step_by(5_000) {
        let events: Vec<pb::Event> = (start..start + 5_000)
            .map(|seq| pb::Event {
                conversation_id: "big".into(),
                seq,
                sender_id: "u".into(),
                ..Default::default()
            })
            .collect();
        old.append(&events).await.unwrap();
    }
    let store = FjallTimelineStore::open(&dir.path().join("timeline"), 1 << 20).unwrap();
    let rows = parley_embedded::import_redb_timeline(&redb, &store)
        .await
        .unwrap();
    assert_eq!(rows as u64, n + 2, "events, the conversation, its lease");
    assert_eq!(store.head("big").await.unwrap(), n);
    assert!(!store.is_empty().unwrap());
}
