//! What sync tells a member about each conversation: their own settings,
//! exact unread and mention counts (deleted messages and their own not
//! counted, bounded with a capped flag), and the newest message.

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;

mod common;
use common::*;

async fn state(s: &parley_storage::StorageService, who: &str) -> pb::ConversationState {
    synced(s, who).await.remove(0)
}

#[tokio::test]
async fn unread_counts_skip_deleted_and_own_messages_and_stop_at_the_cap() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    let m = posted(s, text(&id, "alice", "a1", "oops")).await;
    s.append(text(&id, "alice", "a2", "hi")).await.unwrap();
    s.append(text(&id, "bob", "b1", "mine")).await.unwrap();
    s.append(pb::AppendRequest {
        caller: user("alice"),
        send: Some(pb::Send {
            conversation_id: id.clone(),
            client_msg_id: "a3".into(),
            body: Some(pb::send::Body::Delete(pb::DeleteBody { target_seq: m.seq })),
        }),
    })
    .await
    .unwrap();
    let st = state(s, "bob").await;
    assert_eq!(
        (st.unread_count, st.mention_count, st.unread_capped),
        (1, 0, false)
    );
    assert_eq!(st.last_message.unwrap().sender_id, "bob");
    // Over 500 events above the watermark: the count stops, flagged.
    for i in 0..520 {
        s.append(text(&id, "alice", &format!("x{i}"), "more"))
            .await
            .unwrap();
    }
    let st = state(s, "bob").await;
    assert!(st.unread_capped);
    assert!(
        st.unread_count >= 490 && st.unread_count <= 500,
        "{}",
        st.unread_count
    );
}

#[tokio::test]
async fn settings_are_checked_and_private() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    let set = |who: &str, muted_until_ms: i64| pb::SettingsRequest {
        conversation_id: id.clone(),
        caller: user(who),
        settings: Some(pb::ConversationSettings {
            muted_until_ms,
            ..Default::default()
        }),
    };
    assert!(matches!(
        s.update_settings(set("bob", -5)).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.update_settings(set("mallory", -1)).await,
        Err(ServiceError::NotFound(_))
    ));
    s.update_settings(set("bob", 4_102_444_800_000))
        .await
        .unwrap();
    assert_eq!(
        state(s, "bob").await.settings.unwrap().muted_until_ms,
        4_102_444_800_000
    );
    assert_eq!(state(s, "alice").await.settings.unwrap().muted_until_ms, 0);
}

#[tokio::test]
async fn a_new_member_does_not_count_earlier_history_as_unread() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    for i in 0..5 {
        s.append(text(&id, "bob", &format!("b{i}"), "before"))
            .await
            .unwrap();
    }
    let joined = s
        .add_members(pb::AddMembersRequest {
            conversation_id: id.clone(),
            caller: user("alice"),
            user_ids: vec!["carol".into()],
            role: 0,
            invite_ids: vec![],
        })
        .await
        .unwrap()
        .event
        .unwrap();
    s.append(text(&id, "bob", "after", "after")).await.unwrap();
    let st = state(s, "carol").await;
    assert_eq!(st.read_seq, joined.seq);
    assert_eq!(st.unread_count, 1, "only what came after the join");
}
