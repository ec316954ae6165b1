//! Pinned messages in the storage service: any member pins, a pin that
//! changes nothing is refused without using a seq, at most 50 pins, and
//! conversation replies (get, sync) carry the pins as of their head.

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;

mod common;
use common::*;

fn pin(conv: &str, who: &str, cmid: &str, target: u64, unpin: bool) -> pb::AppendRequest {
    let pin = pb::PinBody {
        target_seq: target,
        unpin,
    };
    send(conv, who, cmid, pb::send::Body::Pin(pin))
}

async fn pins_seen_by(
    s: &parley_storage::StorageService,
    conv: &str,
    who: &str,
) -> Vec<(u64, String)> {
    let c = s
        .get_conversation(pb::ConversationRequest {
            conversation_id: conv.into(),
            caller: user(who),
        })
        .await
        .unwrap();
    c.pins
        .into_iter()
        .map(|p| (p.target_seq, p.pinned_by))
        .collect()
}

#[tokio::test]
async fn members_pin_and_unpin_once_and_replies_carry_the_pins() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    let m1 = posted(s, text(&id, "alice", "a1", "agenda")).await;
    let m2 = posted(s, text(&id, "bob", "b1", "notes")).await;
    // Any member pins; a plain member too.
    let p1 = posted(s, pin(&id, "bob", "b2", m1.seq, false)).await;
    assert!(
        matches!(&p1.body, Some(pb::event::Body::Pin(p)) if p.target_seq == m1.seq && !p.unpin)
    );
    assert!(matches!(
        s.append(pin(&id, "alice", "a2", m1.seq, false)).await,
        Err(ServiceError::AlreadyExists(_))
    ));
    let again = s
        .append(pin(&id, "bob", "b2", m1.seq, false))
        .await
        .unwrap();
    assert!(again.duplicate, "a retry is the idempotent duplicate");
    let p2 = posted(s, pin(&id, "alice", "a3", m2.seq, false)).await;
    assert_eq!(p2.seq, p1.seq + 1, "the refused pin used no seq");
    assert_eq!(
        pins_seen_by(s, &id, "alice").await,
        vec![(m1.seq, "bob".to_string()), (m2.seq, "alice".to_string())]
    );
    // Sync carries them too, with the seq they are as of.
    let sync = s
        .sync(pb::SyncPageRequest {
            caller: user("bob"),
            page: None,
        })
        .await
        .unwrap();
    let c = sync.conversations[0].conversation.as_ref().unwrap();
    assert_eq!(c.pins.len(), 2);
    assert!(c.pins_seq >= p2.seq);

    s.append(pin(&id, "alice", "a4", m1.seq, true))
        .await
        .unwrap();
    assert!(matches!(
        s.append(pin(&id, "alice", "a5", m1.seq, true)).await,
        Err(ServiceError::NotFound(_))
    ));
    assert_eq!(
        pins_seen_by(s, &id, "bob").await,
        vec![(m2.seq, "alice".to_string())]
    );
    // Only messages are pinned; strangers cannot pin.
    assert!(matches!(
        s.append(pin(&id, "alice", "a6", 1, false)).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.append(pin(&id, "mallory", "x1", m2.seq, true)).await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_conversation_holds_at_most_50_pins() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    let mut seqs = Vec::new();
    for i in 0..51 {
        seqs.push(
            posted(s, text(&id, "alice", &format!("m{i}"), "x"))
                .await
                .seq,
        );
    }
    for (i, seq) in seqs[..50].iter().enumerate() {
        s.append(pin(&id, "alice", &format!("p{i}"), *seq, false))
            .await
            .unwrap();
    }
    assert!(matches!(
        s.append(pin(&id, "alice", "p50", seqs[50], false)).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    s.append(pin(&id, "bob", "u0", seqs[0], true))
        .await
        .unwrap();
    s.append(pin(&id, "bob", "p51", seqs[50], false))
        .await
        .unwrap();
}
