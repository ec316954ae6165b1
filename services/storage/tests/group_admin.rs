//! Managing a group through sends: rename and describe (admins, owner),
//! roles and handing ownership over (owner), and an owner who leaves.

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;

mod common;
use common::*;

fn role(user_id: &str, role: pb::Role) -> pb::send::Body {
    pb::send::Body::Role(pb::RoleChange {
        user_id: user_id.into(),
        role: role as i32,
    })
}

fn rename(title: Option<&str>, description: Option<&str>) -> pb::send::Body {
    pb::send::Body::Update(pb::ConversationUpdate {
        title: title.map(str::to_string),
        description: description.map(str::to_string),
        history_visibility: None,
    })
}

async fn roles(s: &parley_storage::StorageService, conv: &str) -> Vec<(String, i32)> {
    let c = s
        .get_conversation(pb::ConversationRequest {
            conversation_id: conv.into(),
            caller: user("carol"),
        })
        .await
        .unwrap();
    c.members.into_iter().map(|m| (m.user_id, m.role)).collect()
}

#[tokio::test]
async fn admins_rename_and_describe_and_everyone_sees_it() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob", "carol"]).await;
    assert!(matches!(
        s.append(send(&id, "bob", "b1", rename(Some("mine"), None)))
            .await,
        Err(ServiceError::PermissionDenied(_))
    ));
    let e = s
        .append(send(
            &id,
            "alice",
            "a1",
            rename(Some("Launch"), Some("Everything about the launch")),
        ))
        .await
        .unwrap()
        .event
        .unwrap();
    assert!(
        matches!(&e.body, Some(pb::event::Body::Updated(u)) if u.title.as_deref() == Some("Launch"))
    );
    let c = s
        .get_conversation(pb::ConversationRequest {
            conversation_id: id.clone(),
            caller: user("bob"),
        })
        .await
        .unwrap();
    assert_eq!(
        (c.title.as_str(), c.description.as_str()),
        ("Launch", "Everything about the launch")
    );
    // Only the description this time; the title stays.
    s.append(send(&id, "alice", "a2", rename(None, Some("v2"))))
        .await
        .unwrap();
    let c = s
        .get_conversation(pb::ConversationRequest {
            conversation_id: id.clone(),
            caller: user("bob"),
        })
        .await
        .unwrap();
    assert_eq!((c.title.as_str(), c.description.as_str()), ("Launch", "v2"));
    // Nothing changes: refused, no seq used; a retry is the duplicate.
    assert!(matches!(
        s.append(send(&id, "alice", "a3", rename(Some("Launch"), None)))
            .await,
        Err(ServiceError::AlreadyExists(_))
    ));
    assert!(
        s.append(send(&id, "alice", "a2", rename(None, Some("v2"))))
            .await
            .unwrap()
            .duplicate
    );
    let long = "x".repeat(1001);
    assert!(matches!(
        s.append(send(&id, "alice", "a4", rename(None, Some(&long))))
            .await,
        Err(ServiceError::InvalidArgument(_))
    ));
    // A DM has no name to change.
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
        s.append(send(&dm, "alice", "d1", rename(Some("x"), None)))
            .await,
        Err(ServiceError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn the_owner_changes_roles_and_hands_ownership_over() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob", "carol"]).await;
    let (owner, admin, member) = (
        pb::Role::Owner as i32,
        pb::Role::Admin as i32,
        pb::Role::Member as i32,
    );
    s.append(send(&id, "alice", "a1", role("bob", pb::Role::Admin)))
        .await
        .unwrap();
    assert_eq!(
        roles(s, &id).await,
        [
            ("alice".into(), owner),
            ("bob".into(), admin),
            ("carol".into(), member)
        ]
    );
    // Admins do not change roles; no-op changes are refused.
    assert!(matches!(
        s.append(send(&id, "bob", "b1", role("carol", pb::Role::Admin)))
            .await,
        Err(ServiceError::PermissionDenied(_))
    ));
    assert!(matches!(
        s.append(send(&id, "alice", "a2", role("bob", pb::Role::Admin)))
            .await,
        Err(ServiceError::AlreadyExists(_))
    ));
    assert!(matches!(
        s.append(send(&id, "alice", "a3", role("mallory", pb::Role::Admin)))
            .await,
        Err(ServiceError::NotFound(_))
    ));
    // Handover: one event, two changes.
    let e = posted(s, send(&id, "alice", "a4", role("carol", pb::Role::Owner))).await;
    let Some(pb::event::Body::RolesChanged(rc)) = &e.body else {
        panic!("{e:?}")
    };
    assert_eq!(rc.changes.len(), 2);
    assert_eq!(
        roles(s, &id).await,
        [
            ("alice".into(), admin),
            ("bob".into(), admin),
            ("carol".into(), owner)
        ]
    );
    // The old owner is an admin now: no more role changes.
    assert!(matches!(
        s.append(send(&id, "alice", "a5", role("bob", pb::Role::Member)))
            .await,
        Err(ServiceError::PermissionDenied(_))
    ));
}

#[tokio::test]
async fn an_owner_who_leaves_passes_ownership_on_first() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob", "carol", "dave"]).await;
    s.append(send(&id, "alice", "a1", role("dave", pb::Role::Admin)))
        .await
        .unwrap();
    let left = s
        .remove_member(pb::RemoveMemberRequest {
            conversation_id: id.clone(),
            caller: user("alice"),
            user_id: "alice".into(),
        })
        .await
        .unwrap()
        .event
        .unwrap();
    // The handover (to the admin) is the event just before the leave.
    let h = s
        .history(history(&id, "dave", left.seq - 1, left.seq, 10, false))
        .await
        .unwrap();
    assert!(
        matches!(&h.events[0].body, Some(pb::event::Body::RolesChanged(rc))
        if rc.changes[0].user_id == "dave" && rc.changes[0].role == pb::Role::Owner as i32)
    );
    let r: Vec<(String, i32)> = roles(s, &id).await;
    assert!(r.contains(&("dave".into(), pb::Role::Owner as i32)));
    // Without an admin, the first member by id inherits.
    s.remove_member(pb::RemoveMemberRequest {
        conversation_id: id.clone(),
        caller: user("dave"),
        user_id: "dave".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        roles(s, &id).await,
        [
            ("bob".into(), pb::Role::Owner as i32),
            ("carol".into(), pb::Role::Member as i32)
        ]
    );
}

#[tokio::test]
async fn new_members_see_history_only_since_joining_when_the_group_says_so() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob"]).await;
    let early = posted(s, text(&id, "bob", "b1", "before carol")).await;
    let pin = pb::send::Body::Pin(pb::PinBody {
        target_seq: early.seq,
        unpin: false,
    });
    s.append(send(&id, "bob", "b0", pin)).await.unwrap();
    let since_joined = pb::send::Body::Update(pb::ConversationUpdate {
        history_visibility: Some(pb::HistoryVisibility::SinceJoined as i32),
        ..Default::default()
    });
    // Members change nothing; admins and the owner do.
    assert!(matches!(
        s.append(send(&id, "bob", "b2", since_joined.clone())).await,
        Err(ServiceError::PermissionDenied(_))
    ));
    s.append(send(&id, "alice", "a1", since_joined))
        .await
        .unwrap();
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
    s.append(text(&id, "bob", "b3", "after carol"))
        .await
        .unwrap();
    let h = s
        .history(history(&id, "carol", 1, 0, 100, false))
        .await
        .unwrap();
    assert_eq!(h.visible_from, joined.seq);
    assert_eq!(h.covered_from, joined.seq);
    assert_eq!(h.events.first().unwrap().seq, joined.seq);
    assert!(
        !h.events.iter().any(|e| e.seq < joined.seq),
        "nothing before the join"
    );
    // Nor is the pin of an earlier message listed to her (bob still sees it).
    let pins_seen_by = |who: &str| pb::ConversationRequest {
        conversation_id: id.clone(),
        caller: user(who),
    };
    let carol_pins = s
        .get_conversation(pins_seen_by("carol"))
        .await
        .unwrap()
        .pins;
    let bob_pins = s.get_conversation(pins_seen_by("bob")).await.unwrap().pins;
    assert_eq!((carol_pins.len(), bob_pins.len()), (0, 1));
    // Asking for older history only is an empty reply, not an error.
    let older = s
        .history(history(&id, "carol", 1, joined.seq - 1, 100, false))
        .await
        .unwrap();
    assert!(older.events.is_empty());
    // Founding members still see everything.
    let h = s
        .history(history(&id, "bob", 1, 0, 100, false))
        .await
        .unwrap();
    assert_eq!((h.visible_from, h.covered_from), (1, 1));
    // Back to "all": carol sees everything.
    s.append(send(
        &id,
        "alice",
        "a2",
        pb::send::Body::Update(pb::ConversationUpdate {
            history_visibility: Some(pb::HistoryVisibility::All as i32),
            ..Default::default()
        }),
    ))
    .await
    .unwrap();
    let h = s
        .history(history(&id, "carol", 1, 0, 100, false))
        .await
        .unwrap();
    assert_eq!((h.visible_from, h.covered_from), (1, 1));
}

#[tokio::test]
async fn racing_changes_of_a_group_are_checked_one_at_a_time() {
    let f = fixture();
    let s = &f.storage;
    let id = new_group(s, "alice", &["bob", "carol", "dave"]).await;
    // Two handovers at once: one wins, the other finds alice no longer
    // the owner. Never two owners.
    let (to_bob, to_carol) = tokio::join!(
        s.append(send(&id, "alice", "h1", role("bob", pb::Role::Owner))),
        s.append(send(&id, "alice", "h2", role("carol", pb::Role::Owner))),
    );
    assert!(
        to_bob.is_ok() != to_carol.is_ok(),
        "{to_bob:?} {to_carol:?}"
    );
    let owners = roles(s, &id)
        .await
        .into_iter()
        .filter(|(_, r)| *r == pb::Role::Owner as i32)
        .count();
    assert_eq!(owners, 1);
    // The owner leaving while handing over: still one owner.
    let owner = if to_bob.is_ok() { "bob" } else { "carol" };
    let (leave, handover) = tokio::join!(
        s.remove_member(pb::RemoveMemberRequest {
            conversation_id: id.clone(),
            caller: user(owner),
            user_id: owner.into(),
        }),
        s.append(send(&id, owner, "h3", role("dave", pb::Role::Owner))),
    );
    leave.unwrap();
    let _ = handover;
    let owners: Vec<String> = roles(s, &id)
        .await
        .into_iter()
        .filter(|(_, r)| *r == pb::Role::Owner as i32)
        .map(|(u, _)| u)
        .collect();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_ne!(owners[0], owner);
}
