//! A message as it reads now: edits applied, and a deleted message refused
//! as the target of anything (reaction, pin, edit, reply, thread).

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;

mod common;
use common::*;

fn read(conv: &str, who: &str, seq: u64) -> pb::MessageRequest {
    pb::MessageRequest {
        caller: user(who),
        conversation_id: conv.into(),
        seq,
    }
}

fn text_of(e: &pb::Event) -> &str {
    match &e.body {
        Some(pb::event::Body::Message(m)) => &m.text,
        _ => "",
    }
}

#[tokio::test]
async fn a_message_reads_with_its_latest_edit_and_not_at_all_once_deleted() {
    let f = fixture();
    let s = &*f.storage;
    let conv = new_group(s, "ann", &["ben"]).await;
    let m = posted(s, text(&conv, "ann", "m", "draft")).await.seq;
    assert_eq!(
        text_of(&s.message(read(&conv, "ben", m)).await.unwrap()),
        "draft"
    );
    for (i, t) in ["second", "final"].iter().enumerate() {
        let edit = pb::EditBody {
            target_seq: m,
            text: t.to_string(),
            ..Default::default()
        };
        posted(
            s,
            send(&conv, "ann", &format!("e{i}"), pb::send::Body::Edit(edit)),
        )
        .await;
    }
    let now = s.message(read(&conv, "ben", m)).await.unwrap();
    assert_eq!(
        (text_of(&now), now.seq, now.sender_id.as_str()),
        ("final", m, "ann")
    );
    assert!(matches!(
        s.message(read(&conv, "eve", m)).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        s.message(read(&conv, "ben", 1)).await,
        Err(ServiceError::NotFound(_)),
    ));
    let delete = pb::send::Body::Delete(pb::DeleteBody { target_seq: m });
    let first = s
        .append(send(&conv, "ann", "d", delete.clone()))
        .await
        .unwrap();
    // A retry of the delete is answered as one, not refused.
    let again = s
        .append(send(&conv, "ann", "d", delete.clone()))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.event.unwrap().seq, first.event.unwrap().seq);
    assert!(matches!(
        s.message(read(&conv, "ben", m)).await,
        Err(ServiceError::NotFound(_))
    ));
    // Nothing takes a deleted message as its target any more.
    let refused = |r: Result<pb::AppendReply, ServiceError>| match r {
        Err(ServiceError::InvalidArgument(m)) => assert!(m.contains("deleted"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let edit = pb::EditBody {
        target_seq: m,
        text: "back from the dead".into(),
        ..Default::default()
    };
    refused(
        s.append(send(&conv, "ann", "e9", pb::send::Body::Edit(edit)))
            .await,
    );
    let react = pb::ReactionBody {
        target_seq: m,
        emoji: "👍".into(),
        remove: false,
    };
    refused(
        s.append(send(&conv, "ben", "r", pb::send::Body::Reaction(react)))
            .await,
    );
    let pin = pb::PinBody {
        target_seq: m,
        unpin: false,
    };
    refused(
        s.append(send(&conv, "ben", "p", pb::send::Body::Pin(pin)))
            .await,
    );
    let reply = pb::MessageBody {
        text: "re".into(),
        reply_to_seq: m,
        ..Default::default()
    };
    refused(
        s.append(send(&conv, "ben", "q", pb::send::Body::Message(reply)))
            .await,
    );
    refused(s.append(send(&conv, "ann", "d2", delete)).await);
}
