//! Reactions and mentions in the storage service: toggles that change
//! nothing are refused without using a seq, emoji are stored in one form,
//! history carries each message's reactions, mentions name members only.

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;

mod common;
use common::*;

fn react(
    conv: &str,
    who: &str,
    cmid: &str,
    target: u64,
    emoji: &str,
    remove: bool,
) -> pb::AppendRequest {
    let reaction = pb::ReactionBody {
        target_seq: target,
        emoji: emoji.into(),
        remove,
    };
    send(conv, who, cmid, pb::send::Body::Reaction(reaction))
}

fn mention(conv: &str, who: &str, cmid: &str, ids: &[&str], all: bool) -> pb::AppendRequest {
    let message = pb::MessageBody {
        text: "hey @someone".into(),
        mention_ids: ids.iter().map(|s| s.to_string()).collect(),
        mention_all: all,
        ..Default::default()
    };
    send(conv, who, cmid, pb::send::Body::Message(message))
}

#[tokio::test]
async fn reactions_toggle_once_per_user_and_emoji_and_history_carries_them() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob", "carol"]).await;
    let m = posted(s, text(&id, "alice", "a1", "ship it")).await;

    // A shortcode is stored as its Unicode emoji.
    let r1 = s
        .append(react(&id, "bob", "b1", m.seq, ":thumbsup:", false))
        .await
        .unwrap();
    let e1 = r1.event.unwrap();
    assert!(
        matches!(&e1.body, Some(pb::event::Body::Reaction(r)) if r.emoji == "\u{1F44D}" && r.target_seq == m.seq)
    );
    // The same reaction again (another send) changes nothing: refused, no seq used.
    assert!(matches!(
        s.append(react(&id, "bob", "b2", m.seq, "\u{1F44D}", false))
            .await,
        Err(ServiceError::AlreadyExists(_))
    ));
    // A retry of the stored send is its idempotent duplicate.
    let again = s
        .append(react(&id, "bob", "b1", m.seq, ":thumbsup:", false))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.event.unwrap().seq, e1.seq);
    // The heart with and without its variation selector is one reaction.
    let e2 = posted(s, react(&id, "carol", "c1", m.seq, "\u{2764}", false)).await;
    assert_eq!(e2.seq, e1.seq + 1, "the refused toggle used no seq");
    assert!(matches!(
        s.append(react(&id, "carol", "c2", m.seq, "\u{2764}\u{FE0F}", false))
            .await,
        Err(ServiceError::AlreadyExists(_))
    ));
    s.append(react(&id, "alice", "a2", m.seq, "\u{1F44D}", false))
        .await
        .unwrap();

    let h = s
        .history(history(&id, "carol", 1, 0, 100, false))
        .await
        .unwrap();
    let summary: Vec<(u64, &str, u32, Vec<&str>)> = h
        .reactions
        .iter()
        .map(|r| {
            (
                r.target_seq,
                r.emoji.as_str(),
                r.count,
                r.user_ids.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (m.seq, "\u{1F44D}", 2, vec!["bob", "alice"]),
            (m.seq, "\u{2764}\u{FE0F}", 1, vec!["carol"]),
        ]
    );

    // Taking back: once; a second time is not_found.
    s.append(react(&id, "bob", "b3", m.seq, "\u{1F44D}", true))
        .await
        .unwrap();
    assert!(matches!(
        s.append(react(&id, "bob", "b4", m.seq, "\u{1F44D}", true))
            .await,
        Err(ServiceError::NotFound(_))
    ));
    let h = s
        .history(history(&id, "bob", 1, 0, 100, false))
        .await
        .unwrap();
    // Emoji are in the order of their oldest current reaction: bob's was.
    let order: Vec<(&str, u32)> = h
        .reactions
        .iter()
        .map(|r| (r.emoji.as_str(), r.count))
        .collect();
    assert_eq!(order, [("\u{2764}\u{FE0F}", 1), ("\u{1F44D}", 1)]);
    assert_eq!(h.reactions[1].user_ids, ["alice"]);
    // The reaction events themselves stay in the timeline, in order.
    let kinds = h
        .events
        .iter()
        .filter(|e| matches!(e.body, Some(pb::event::Body::Reaction(_))))
        .count();
    assert_eq!(kinds, 4);
}

#[tokio::test]
async fn reactions_are_checked() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    let m = posted(s, text(&id, "alice", "a1", "hi")).await;
    for bad in ["", "lol", ":nope_not_one:", "\u{1F44D}\u{1F44D}", "<b>"] {
        assert!(
            matches!(
                s.append(react(&id, "bob", "x", m.seq, bad, false)).await,
                Err(ServiceError::InvalidArgument(_))
            ),
            "{bad:?}"
        );
    }
    // Only messages take reactions (seq 1 is the creation event).
    assert!(matches!(
        s.append(react(&id, "bob", "x", 1, "\u{1F44D}", false))
            .await,
        Err(ServiceError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.append(react(&id, "bob", "x", 999, "\u{1F44D}", false))
            .await,
        Err(ServiceError::InvalidArgument(_))
    ));
    // Not a member: the conversation does not exist for them.
    assert!(matches!(
        s.append(react(&id, "mallory", "x", m.seq, "\u{1F44D}", false))
            .await,
        Err(ServiceError::NotFound(_))
    ));
    // At most 50 different emoji per message; more of one already there is fine.
    let many: Vec<&str> = emojis::iter().map(|e| e.as_str()).take(51).collect();
    for (i, e) in many[..50].iter().enumerate() {
        s.append(react(&id, "bob", &format!("m{i}"), m.seq, e, false))
            .await
            .unwrap();
    }
    assert!(matches!(
        s.append(react(&id, "bob", "m50", m.seq, many[50], false))
            .await,
        Err(ServiceError::InvalidArgument(_))
    ));
    s.append(react(&id, "alice", "a2", m.seq, many[0], false))
        .await
        .unwrap();
}

#[tokio::test]
async fn mentions_name_members_only() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob", "carol"]).await;
    let e = posted(s, mention(&id, "alice", "a1", &["bob", "carol"], true)).await;
    assert!(
        matches!(&e.body, Some(pb::event::Body::Message(m)) if m.mention_ids == ["bob", "carol"] && m.mention_all)
    );
    for (ids, why) in [
        (&["mallory"][..], "not a member"),
        (&["bob", "bob"][..], "twice"),
        (&["not valid!"][..], "not an id"),
    ] {
        assert!(
            matches!(
                s.append(mention(&id, "alice", "a2", ids, false)).await,
                Err(ServiceError::InvalidArgument(_))
            ),
            "{why}"
        );
    }
    let too_many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert!(matches!(
        s.append(mention(&id, "alice", "a3", &refs, false)).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    // @all is for groups.
    let dm = s
        .create_conversation(pb::CreateConversationRequest {
            caller: user("alice"),
            kind: pb::ConversationKind::Direct as i32,
            member_ids: vec!["bob".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    assert!(matches!(
        s.append(mention(&dm, "alice", "d1", &[], true)).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    s.append(mention(&dm, "alice", "d2", &["bob"], false))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_same_reaction_twice_at_once_is_one_event() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    let m = posted(s, text(&id, "alice", "a1", "lunch?")).await;
    // Two devices of bob react alike at the same moment.
    let (a, b) = tokio::join!(
        s.append(react(&id, "bob", "phone", m.seq, "👍", false)),
        s.append(react(&id, "bob", "laptop", m.seq, "👍", false)),
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    let h = s
        .history(history(&id, "alice", 1, 0, 100, false))
        .await
        .unwrap();
    let reactions = h
        .events
        .iter()
        .filter(|e| matches!(e.body, Some(pb::event::Body::Reaction(_))))
        .count();
    assert_eq!(reactions, 1);
}
