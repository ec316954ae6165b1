//! Consent: message requests, blocks and group invitations, as storage
//! keeps them (the gateway decides who needs to accept; see its tests for
//! that rule).

use parley_core::ServiceError;
use parley_core::ids::direct_id;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;
use parley_storage::StorageService;

mod common;
use common::*;

fn dm(from: &str, to: &str, request: bool) -> pb::CreateConversationRequest {
    pb::CreateConversationRequest {
        caller: user(from),
        kind: pb::ConversationKind::Direct as i32,
        member_ids: vec![to.into()],
        invite_ids: if request { vec![to.into()] } else { vec![] },
        ..Default::default()
    }
}

async fn block(s: &StorageService, who: &str, whom: &str, unblock: bool) {
    s.block(pb::BlockRequest {
        caller: user(who),
        user_id: whom.into(),
        unblock,
    })
    .await
    .unwrap();
}

fn respond(who: &str, conv: &str, accept: bool) -> pb::RespondRequest {
    pb::RespondRequest {
        caller: user(who),
        conversation_id: conv.into(),
        accept,
        block: false,
    }
}

async fn contacts(s: &StorageService, who: &str) -> Vec<String> {
    s.contacts(pb::CallerRequest { caller: user(who) })
        .await
        .unwrap()
        .user_ids
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, ServiceError>) -> String {
    match r {
        Err(ServiceError::PermissionDenied(m)) => m,
        other => panic!("expected forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn a_message_request_waits_for_an_answer_and_a_reply_accepts_it() {
    let f = fixture();
    let s = &*f.storage;
    let conv = s
        .create_conversation(dm("mallory", "alice", true))
        .await
        .unwrap();
    let request = conv.request.clone().expect("a request");
    assert_eq!(request.from_user_id, "mallory");
    // The sender can write; the request shows on both sides.
    posted(s, text(&conv.id, "mallory", "m1", "hi, can we talk?")).await;
    let alice = synced(s, "alice").await;
    assert_eq!(alice.len(), 1);
    let entry = alice[0].conversation.as_ref().unwrap();
    assert_eq!(entry.request.as_ref().unwrap().from_user_id, "mallory");
    assert_eq!(
        alice[0].unread_count, 1,
        "the request's messages are readable"
    );
    // No contact yet: presence stays private both ways.
    assert!(contacts(s, "alice").await.is_empty());
    assert!(contacts(s, "mallory").await.is_empty());
    // Starting it again (a retry) keeps it a request.
    let again = s
        .create_conversation(dm("mallory", "alice", true))
        .await
        .unwrap();
    assert!(again.request.is_some());
    // Alice replies: that accepts it.
    posted(s, text(&conv.id, "alice", "a1", "sure")).await;
    let after = s
        .get_conversation(pb::ConversationRequest {
            conversation_id: conv.id.clone(),
            caller: user("mallory"),
        })
        .await
        .unwrap();
    assert!(after.request.is_none(), "a reply accepts");
    assert_eq!(contacts(s, "alice").await, ["mallory"]);
}

#[tokio::test]
async fn accepting_and_declining_a_request() {
    let f = fixture();
    let s = &*f.storage;
    let conv = s
        .create_conversation(dm("bob", "alice", true))
        .await
        .unwrap();
    // Only the one asked answers.
    assert!(matches!(
        s.respond(respond("bob", &conv.id, true)).await,
        Err(ServiceError::NotFound(_))
    ));
    let accepted = s.respond(respond("alice", &conv.id, true)).await.unwrap();
    assert!(accepted.conversation.unwrap().request.is_none());
    // Both learn it from the timeline: bob's devices included.
    assert_eq!(
        accepted_by(s, &conv.id, "bob").await,
        [("alice".into(), "bob".into())]
    );
    assert!(matches!(
        s.respond(respond("alice", &conv.id, true)).await,
        Err(ServiceError::NotFound(_)),
    ));
    // Declining blocks the sender and takes it off the list.
    let spam = s
        .create_conversation(dm("mallory", "alice", true))
        .await
        .unwrap();
    posted(s, text(&spam.id, "mallory", "m1", "buy now")).await;
    let declined = s.respond(respond("alice", &spam.id, false)).await.unwrap();
    assert_eq!(declined.invited_by, "mallory");
    let listed: Vec<String> = synced(s, "alice")
        .await
        .into_iter()
        .map(|c| c.conversation.unwrap().id)
        .collect();
    assert_eq!(listed, [conv.id.as_str()], "the declined request is gone");
    let m = forbidden(s.append(text(&spam.id, "mallory", "m2", "hello?")).await);
    assert!(m.contains("does not accept"), "{m}");
    let blocked = s
        .list_blocked(pb::CallerRequest {
            caller: user("alice"),
        })
        .await
        .unwrap();
    assert_eq!(blocked.user_ids, ["mallory"]);
}

#[tokio::test]
async fn starting_a_direct_conversation_back_accepts_a_request() {
    let f = fixture();
    let s = &*f.storage;
    s.create_conversation(dm("bob", "alice", true))
        .await
        .unwrap();
    let back = s
        .create_conversation(dm("alice", "bob", true))
        .await
        .unwrap();
    assert!(back.request.is_none());
    assert_eq!(
        accepted_by(s, &back.id, "bob").await,
        [("alice".into(), "bob".into())]
    );
    // Starting it again is no second acceptance.
    s.create_conversation(dm("alice", "bob", true))
        .await
        .unwrap();
    assert_eq!(accepted_by(s, &back.id, "bob").await.len(), 1);
}

/// Each requestAccepted event of the conversation, as (accepted by, asked by).
async fn accepted_by(s: &StorageService, conv: &str, reader: &str) -> Vec<(String, String)> {
    let h = s
        .history(history(conv, reader, 1, 0, 100, false))
        .await
        .unwrap();
    h.events
        .into_iter()
        .filter_map(|e| match e.body {
            Some(pb::event::Body::RequestAccepted(a)) => Some((e.sender_id, a.from_user_id)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_block_stops_messages_both_ways_and_hides_presence_until_unblocked() {
    let f = fixture();
    let s = &*f.storage;
    let conv = s
        .create_conversation(dm("alice", "bob", false))
        .await
        .unwrap();
    let team = new_group(s, "alice", &["bob", "carol"]).await;
    assert_eq!(contacts(s, "alice").await, ["bob", "carol"]);
    block(s, "alice", "bob", false).await;
    block(s, "alice", "bob", false).await; // twice is once
    let m = forbidden(s.append(text(&conv.id, "bob", "b1", "hey")).await);
    assert!(m.contains("does not accept"), "{m}");
    let m = forbidden(s.append(text(&conv.id, "alice", "a1", "hey")).await);
    assert!(m.contains("you blocked"), "{m}");
    let m = forbidden(s.create_conversation(dm("bob", "alice", false)).await);
    assert!(m.contains("does not accept"), "{m}");
    // A shared group stays, but they are no contacts (no presence).
    assert_eq!(contacts(s, "alice").await, ["carol"]);
    assert_eq!(contacts(s, "bob").await, ["carol"]);
    posted(s, text(&team, "bob", "g1", "in the group")).await;
    // The blocker's list no longer shows the direct conversation; the
    // blocked one's still does.
    assert_eq!(synced(s, "alice").await.len(), 1);
    assert_eq!(synced(s, "bob").await.len(), 2);
    let r = s
        .relations(pb::RelationsRequest {
            caller: user("bob"),
            user_ids: vec!["alice".into(), "carol".into()],
        })
        .await
        .unwrap();
    assert_eq!(r.blocked_user_ids, ["alice"], "either way");
    block(s, "alice", "bob", true).await;
    posted(s, text(&conv.id, "bob", "b2", "hey again")).await;
    assert_eq!(contacts(s, "alice").await, ["bob", "carol"]);
    assert!(
        s.list_blocked(pb::CallerRequest {
            caller: user("alice")
        })
        .await
        .unwrap()
        .user_ids
        .is_empty()
    );
    assert!(matches!(
        s.block(pb::BlockRequest {
            caller: user("alice"),
            user_id: "alice".into(),
            unblock: false,
        })
        .await,
        Err(ServiceError::InvalidArgument(_))
    ));
    // The pair's records are on disk under the pair's id.
    assert_eq!(direct_id("alice", "bob"), conv.id);
}

fn invite(conv: &str, who: &str, ids: &[&str]) -> pb::AddMembersRequest {
    pb::AddMembersRequest {
        conversation_id: conv.into(),
        caller: user(who),
        user_ids: vec![],
        role: 0,
        invite_ids: ids.iter().map(|u| u.to_string()).collect(),
    }
}

async fn invitations(s: &StorageService, who: &str) -> Vec<pb::Invitation> {
    s.invitations(pb::CallerRequest { caller: user(who) })
        .await
        .unwrap()
        .invitations
}

async fn members(s: &StorageService, conv: &str, who: &str) -> pb::Conversation {
    s.get_conversation(pb::ConversationRequest {
        conversation_id: conv.into(),
        caller: user(who),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn an_invitee_sees_the_invitation_not_the_group_until_accepting() {
    let f = fixture();
    let s = &*f.storage;
    let conv = new_group(s, "alice", &["bob"]).await;
    posted(s, text(&conv, "alice", "a1", "before dave")).await;
    let invited = s
        .add_members(invite(&conv, "alice", &["dave"]))
        .await
        .unwrap();
    let event = invited.event.unwrap();
    assert!(matches!(
        event.body,
        Some(pb::event::Body::MembersInvited(ref i)) if i.user_ids == ["dave"]
    ));
    // Inviting again is nothing new.
    assert!(matches!(
        s.add_members(invite(&conv, "alice", &["dave"])).await,
        Err(ServiceError::AlreadyExists(_))
    ));
    assert_eq!(members(s, &conv, "bob").await.invited_ids, ["dave"]);
    // Dave: the invitation, with the group's name and size; nothing else.
    let list = invitations(s, "dave").await;
    assert_eq!(list.len(), 1);
    let group = list[0].conversation.as_ref().unwrap();
    assert_eq!(
        (group.id.as_str(), group.title.as_str()),
        (conv.as_str(), "team")
    );
    assert_eq!(group.member_count, 2);
    assert!(group.members.is_empty());
    assert_eq!(list[0].invited_by, "alice");
    assert_eq!(list[0].seq, event.seq);
    assert!(synced(s, "dave").await.is_empty());
    assert!(matches!(
        s.history(history(&conv, "dave", 1, 0, 10, false)).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        s.append(text(&conv, "dave", "d0", "let me in")).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(!contacts(s, "dave").await.contains(&"alice".to_string()));
    // Accepting makes a member (recorded as joining by themselves).
    let joined = s.respond(respond("dave", &conv, true)).await.unwrap();
    let e = joined.event.unwrap();
    assert_eq!(e.sender_id, "dave");
    assert!(matches!(e.body, Some(pb::event::Body::MembersAdded(ref a)) if a.user_ids == ["dave"]));
    assert_eq!(joined.conversation.unwrap().member_count, 3);
    assert!(invitations(s, "dave").await.is_empty());
    assert!(members(s, &conv, "bob").await.invited_ids.is_empty());
    posted(s, text(&conv, "dave", "d1", "hello all")).await;
    let state = &synced(s, "dave").await[0];
    assert_eq!(
        state.unread_count, 0,
        "nothing from before counts as unread"
    );
}

#[tokio::test]
async fn declined_and_withdrawn_invitations_are_recorded_and_gone() {
    let f = fixture();
    let s = &*f.storage;
    let conv = new_group(s, "alice", &["bob"]).await;
    s.add_members(invite(&conv, "alice", &["dave", "erin"]))
        .await
        .unwrap();
    // A plain member cannot withdraw; the owner can.
    let withdraw = |who: &str, whom: &str| pb::RemoveMemberRequest {
        conversation_id: conv.clone(),
        caller: user(who),
        user_id: whom.into(),
    };
    forbidden(s.remove_member(withdraw("bob", "erin")).await);
    let gone = s.remove_member(withdraw("alice", "erin")).await.unwrap();
    assert!(matches!(
        gone.event.unwrap().body,
        Some(pb::event::Body::InvitationClosed(ref c)) if c.user_id == "erin" && !c.declined
    ));
    assert!(invitations(s, "erin").await.is_empty());
    assert!(matches!(
        s.respond(respond("erin", &conv, true)).await,
        Err(ServiceError::NotFound(_))
    ));
    let declined = s.respond(respond("dave", &conv, false)).await.unwrap();
    assert_eq!(declined.invited_by, "alice");
    assert!(matches!(
        declined.event.unwrap().body,
        Some(pb::event::Body::InvitationClosed(ref c)) if c.user_id == "dave" && c.declined
    ));
    assert!(members(s, &conv, "bob").await.invited_ids.is_empty());
    assert!(matches!(
        s.remove_member(withdraw("alice", "nobody")).await,
        Err(ServiceError::NotFound(_))
    ));
    // A declined invitation can be made again.
    s.add_members(invite(&conv, "alice", &["dave"]))
        .await
        .unwrap();
    assert_eq!(invitations(s, "dave").await.len(), 1);
}

#[tokio::test]
async fn a_group_created_with_invitees_and_members_at_once() {
    let f = fixture();
    let s = &*f.storage;
    let mut req = group("alice", &["bob"]);
    req.invite_ids = vec!["dave".into(), "bob".into()];
    let conv = s.create_conversation(req).await.unwrap();
    assert_eq!(conv.member_count, 2);
    assert_eq!(conv.invited_ids, ["dave"], "a member is not invited too");
    let h = s
        .history(history(&conv.id, "bob", 1, 0, 10, false))
        .await
        .unwrap();
    let kinds: Vec<bool> = h
        .events
        .iter()
        .map(|e| matches!(e.body, Some(pb::event::Body::MembersInvited(_))))
        .collect();
    assert_eq!(kinds, [false, true], "created, then membersInvited");
    // Invitations list newest first across groups.
    let mut second = group("carol", &[]);
    second.invite_ids = vec!["dave".into()];
    let later = s.create_conversation(second).await.unwrap();
    let list = invitations(s, "dave").await;
    let ids: Vec<&str> = list
        .iter()
        .map(|i| i.conversation.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(list[0].invited_at_ms >= list[1].invited_at_ms);
    assert!(ids.contains(&later.id.as_str()));
}

#[tokio::test]
async fn signals_stay_home_in_a_block_and_before_a_request_is_answered() {
    let f = fixture();
    let s = &*f.storage;
    let reach = |conv: &str, who: &str| pb::MembersRequest {
        conversation_id: conv.into(),
        caller: user(who),
        ..Default::default()
    };
    let ids = |r: pb::MemberIdsReply| {
        let mut v = r.user_ids;
        v.sort();
        v
    };
    let conv = s.create_conversation(dm("max", "ann", true)).await.unwrap();
    // Max's typing reaches ann; ann's receipts do not reach max yet.
    assert_eq!(
        ids(s.member_ids(reach(&conv.id, "max")).await.unwrap()),
        ["ann", "max"]
    );
    assert_eq!(
        ids(s.member_ids(reach(&conv.id, "ann")).await.unwrap()),
        ["ann"]
    );
    s.respond(respond("ann", &conv.id, true)).await.unwrap();
    assert_eq!(
        ids(s.member_ids(reach(&conv.id, "ann")).await.unwrap()),
        ["ann", "max"]
    );
    block(s, "max", "ann", false).await;
    for who in ["ann", "max"] {
        assert_eq!(
            ids(s.member_ids(reach(&conv.id, who)).await.unwrap()),
            [who]
        );
    }
    // The system (fanout delivering stored events) still gets everyone.
    let all = s
        .member_ids(pb::MembersRequest {
            conversation_id: conv.id.clone(),
            caller: parley_core::Caller::System.to_proto(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(all), ["ann", "max"]);
}

#[tokio::test]
async fn an_unanswered_invitation_lapses_and_may_be_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = parley_storage::StorageConfig {
        invitation_ttl_secs: 1,
        ..Default::default()
    };
    let s = &service(dir.path(), cfg);
    let conv = new_group(s, "alice", &["bob"]).await;
    s.add_members(invite(&conv, "alice", &["dave"]))
        .await
        .unwrap();
    assert_eq!(invitations(s, "dave").await.len(), 1);
    // Past its lifetime it is gone from dave's list...
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !invitations(s, "dave").await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "never lapsed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // ...from the group's invited ids, and cannot be accepted.
    assert!(members(s, &conv, "bob").await.invited_ids.is_empty());
    assert!(matches!(
        s.respond(respond("dave", &conv, true)).await,
        Err(ServiceError::NotFound(_))
    ));
    // Dave may be invited again.
    let again = s
        .add_members(invite(&conv, "alice", &["dave"]))
        .await
        .unwrap();
    assert!(matches!(
        again.event.unwrap().body,
        Some(pb::event::Body::MembersInvited(ref i)) if i.user_ids == ["dave"]
    ));
    assert_eq!(invitations(s, "dave").await.len(), 1);
}
