//! Dedup keys of the embedded timeline expire: past their lifetime a
//! retry is no longer matched, and the background sweep removes them from
//! the store (a key written again meanwhile stays).

use parley_embedded::FjallTimelineStore;
use parley_ports::TimelineStore;
use parley_proto::v1 as pb;
use std::time::{Duration, Instant};

fn sent(conv: &str, seq: u64, cmid: &str) -> pb::Event {
    pb::Event {
        conversation_id: conv.into(),
        seq,
        sender_id: "ann".into(),
        client_msg_id: cmid.into(),
        sent_at_ms: 1,
        body: Some(pb::event::Body::Message(pb::MessageBody {
            text: "hi".into(),
            ..Default::default()
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_keys_expire_and_are_swept_away() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallTimelineStore::open(dir.path(), 8 << 20).unwrap();
    store
        .append(&[sent("c", 1, "a"), sent("c", 2, "b")])
        .await
        .unwrap();
    assert_eq!(store.dedup_lookup("c", "ann", "a").await.unwrap(), Some(1));
    // Within the default lifetime (7 days) nothing is swept.
    assert_eq!(store.sweep_dedup(&[], 100).await.unwrap().0, 0);

    store.expire_dedup_keys(Duration::from_millis(300));
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.dedup_lookup("c", "ann", "a").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Swept (by the background task or here) until nothing is left.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.sweep_dedup(&[], 100).await.unwrap().0 > 0 {
        assert!(Instant::now() < deadline, "never swept");
    }
    // Gone from the store, not only expired: with no lifetime at all they
    // still do not answer.
    store.expire_dedup_keys(Duration::ZERO);
    assert_eq!(store.dedup_lookup("c", "ann", "a").await.unwrap(), None);
    assert_eq!(store.dedup_lookup("c", "ann", "b").await.unwrap(), None);
    store.append(&[sent("c", 3, "fresh")]).await.unwrap();
    assert_eq!(store.sweep_dedup(&[], 100).await.unwrap().0, 0);
    assert_eq!(
        store.dedup_lookup("c", "ann", "fresh").await.unwrap(),
        Some(3)
    );
    // Paging: a page of one key ends where the next starts.
    let (_, next) = store.sweep_dedup(&[], 1).await.unwrap();
    assert!(!next.is_empty());
    let (_, end) = store.sweep_dedup(&next, 1).await.unwrap();
    assert!(
        end.is_empty(),
        "one key left, so the second page ends the round"
    );
}
