//! Consent, end to end over WebSockets: who is invited rather than added
//! (`gateway.invitations`), message requests, blocks, and what each of
//! them hides (messages, invitations, presence).

mod common;

use common::*;
use parley_gateway::Invitations;
use parley_sdk::{ClientEvent, Encoding, SdkError, pb};

async fn node(mode: Invitations) -> TestNode {
    TestNode::start_with(|c| c.gateway.invitations = mode).await
}

fn code(r: Result<impl std::fmt::Debug, SdkError>) -> String {
    match r {
        Err(e) => e.code().unwrap_or("none").to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_invites_and_requests_and_learns_no_presence_until_accepted() {
    let node = node(Invitations::Strangers).await;
    let (mallory, _m) = node.user("mallory").await;
    let (alice, mut alice_ev) = node.user("alice").await;
    // A group of strangers: alice is invited, not added.
    let group = mallory
        .create_group("free crypto", &[alice.user_id()])
        .await
        .unwrap();
    assert_eq!(group.member_count, 1);
    assert_eq!(group.invited_ids, [alice.user_id()]);
    let invitation = alice_ev
        .wait(|e| match e {
            ClientEvent::Invited(i) => Some(i.clone()),
            _ => None,
        })
        .await;
    let meta = invitation.conversation.unwrap();
    assert_eq!(
        (meta.id.as_str(), meta.title.as_str()),
        (group.id.as_str(), "free crypto")
    );
    assert_eq!(invitation.invited_by, mallory.user_id());
    assert!(alice.sync().await.unwrap().conversations.is_empty());
    assert_eq!(alice.invitations().await.unwrap().len(), 1);
    mallory.send_text(&group.id, "join us").await.unwrap();
    // A direct conversation from a stranger is a request.
    let dm = mallory.create_direct(&alice.user_id()).await.unwrap();
    assert_eq!(dm.request.as_ref().unwrap().from_user_id, mallory.user_id());
    mallory.send_text(&dm.id, "hello?").await.unwrap();
    let entry = alice.sync().await.unwrap().conversations;
    assert_eq!(entry.len(), 1);
    assert!(entry[0].conversation.as_ref().unwrap().request.is_some());
    // Nobody learns the other's presence from either.
    assert!(
        mallory
            .query_presence(&[alice.user_id()])
            .await
            .unwrap()
            .is_empty()
    );
    // Alice declines the group and the request: the request blocks him.
    assert!(
        alice
            .respond(&group.id, false, false)
            .await
            .unwrap()
            .is_none()
    );
    alice_ev
        .wait(|e| {
            matches!(e, ClientEvent::InvitationGone(g) if g.conversation_id == group.id)
                .then_some(())
        })
        .await;
    assert!(alice.invitations().await.unwrap().is_empty());
    alice.respond(&dm.id, false, false).await.unwrap();
    assert_eq!(alice.blocked().await.unwrap(), [mallory.user_id()]);
    assert!(alice.sync().await.unwrap().conversations.is_empty());
    assert_eq!(code(mallory.send_text(&dm.id, "???").await), "forbidden");
    // Blocked: no new invitation either.
    assert_eq!(
        code(mallory.create_group("again", &[alice.user_id()]).await),
        "forbidden"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_who_share_a_conversation_are_added_and_an_accepted_invitation_joins() {
    let node = node(Invitations::Strangers).await;
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let (carol, mut carol_ev) = node.user("carol").await;
    // Bob accepts alice's invitation; from then on they are contacts.
    let first = alice.create_group("first", &[bob.user_id()]).await.unwrap();
    bob_ev
        .wait(|e| matches!(e, ClientEvent::Invited(_)).then_some(()))
        .await;
    let joined = bob.respond(&first.id, true, false).await.unwrap().unwrap();
    assert_eq!(joined.member_count, 2);
    let got = bob_ev.timeline(&first.id, 3).await;
    assert!(
        got.iter()
            .any(|e| matches!(e.body, Some(pb::event::Body::MembersAdded(_)))),
        "bob's client follows the group from his joining: {got:?}"
    );
    let online = alice.query_presence(&[bob.user_id()]).await.unwrap();
    assert!(online[0].online, "contacts see each other");
    // A contact is added directly; a stranger in the same request invited.
    let second = alice
        .create_group("second", &[bob.user_id(), carol.user_id()])
        .await
        .unwrap();
    assert_eq!(second.member_count, 2);
    assert_eq!(second.invited_ids, [carol.user_id()]);
    carol_ev
        .wait(|e| matches!(e, ClientEvent::Invited(_)).then_some(()))
        .await;
    // Withdrawn by the owner: carol hears it is gone.
    alice
        .remove_member(&second.id, &carol.user_id())
        .await
        .unwrap();
    carol_ev
        .wait(|e| matches!(e, ClientEvent::InvitationGone(g) if g.conversation_id == second.id && !g.accepted).then_some(()))
        .await;
    assert_eq!(
        code(carol.respond(&second.id, true, false).await),
        "not_found"
    );
    // A direct conversation between contacts opens at once.
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    assert!(dm.request.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_hides_presence_and_stops_invitations_in_every_mode() {
    let node = node(Invitations::Never).await;
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let (carol, _c) = node.user("carol").await;
    let team = alice
        .create_group("team", &[bob.user_id(), carol.user_id()])
        .await
        .unwrap();
    assert_eq!(team.member_count, 3, "never: added directly");
    let dm = bob.create_direct(&alice.user_id()).await.unwrap();
    assert!(dm.request.is_none(), "never: no requests");
    alice.block(&bob.user_id()).await.unwrap();
    assert!(
        bob.query_presence(&[alice.user_id()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        alice
            .query_presence(&[bob.user_id()])
            .await
            .unwrap()
            .is_empty(),
        "either way"
    );
    // Alice going away and back is not announced to bob.
    alice.close();
    let (alice, _a) = node.login("alice", Encoding::Proto).await;
    let alice_id = alice.user_id();
    carol.send_text(&team.id, "marker").await.unwrap();
    let seen = bob_ev
        .wait(|e| match e {
            ClientEvent::Presence(p) if p.user_id == alice_id => Some(true),
            ClientEvent::Event(ev) if ev.conversation_id == team.id && text_of(ev) == "marker" => {
                Some(false)
            }
            _ => None,
        })
        .await;
    assert!(!seen, "bob heard of alice's presence");
    assert_eq!(code(bob.send_text(&dm.id, "hi").await), "forbidden");
    assert_eq!(
        code(bob.create_group("x", &[alice.user_id()]).await),
        "forbidden"
    );
    assert_eq!(
        code(
            bob.add_members(&team.id, &[alice.user_id()], pb::Role::Member)
                .await
        ),
        "forbidden"
    );
    // Messages in the shared group still flow.
    bob.send_text(&team.id, "still here").await.unwrap();
    alice.unblock(&bob.user_id()).await.unwrap();
    bob.send_text(&dm.id, "thanks").await.unwrap();
    assert!(alice.blocked().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_invites_even_contacts() {
    let node = node(Invitations::Always).await;
    let (alice, _a) = node.user("alice").await;
    let (bob, _b) = node.user("bob").await;
    let g = alice.create_group("a", &[bob.user_id()]).await.unwrap();
    bob.respond(&g.id, true, false).await.unwrap();
    let again = alice.create_group("b", &[bob.user_id()]).await.unwrap();
    assert_eq!(again.invited_ids, [bob.user_id()]);
    // Direct conversations follow the strangers rule: contacts open at once.
    assert!(
        alice
            .create_direct(&bob.user_id())
            .await
            .unwrap()
            .request
            .is_none()
    );
}
