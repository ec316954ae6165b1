//! Whole-system messaging scenarios against an embedded node, through the SDK.

mod common;

use common::{TestNode, text_of};
use parley_sdk::{ClientEvent, Encoding, pb};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_message_between_a_json_and_a_protobuf_client() {
    let node = TestNode::start().await;
    let (alice, mut alice_ev) = node.user_with("alice", Encoding::Json).await;
    let (bob, mut bob_ev) = node.user_with("bob", Encoding::Proto).await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let again = bob.create_direct(&alice.user_id()).await.unwrap();
    assert_eq!(dm.id, again.id, "both sides land in the same DM");
    let ack = alice.send_text(&dm.id, "hello bob ✓").await.unwrap();
    assert_eq!(ack.seq, 2, "seq 1 is the conversation's creation");
    let got = bob_ev.timeline(&dm.id, 2).await;
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(text_of(&got[1]), "hello bob ✓");
    assert_eq!(got[1].sender_id, alice.user_id());
    let reply = bob.send_text(&dm.id, "hi alice").await.unwrap();
    let got = alice_ev.timeline(&dm.id, 3).await;
    assert_eq!(got.last().unwrap().seq, reply.seq);
    assert_eq!(text_of(got.last().unwrap()), "hi alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_of_50_every_member_gets_every_message_once_in_order() {
    let node = TestNode::start().await;
    let mut members = Vec::new();
    for i in 0..50 {
        members.push(node.user(&format!("member{i:02}")).await);
    }
    let ids: Vec<String> = members.iter().skip(1).map(|(c, _)| c.user_id()).collect();
    let group = members[0].0.create_group("fifty", &ids).await.unwrap();
    assert_eq!(group.members.len(), 50);
    // Five members send ten messages each, concurrently.
    let mut sends = Vec::new();
    for s in 0..5 {
        let client = members[s * 10].0.clone();
        let conv = group.id.clone();
        sends.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for m in 0..10 {
                seqs.push(
                    client
                        .send_text(&conv, &format!("from {s} #{m}"))
                        .await
                        .unwrap()
                        .seq,
                );
            }
            seqs
        }));
    }
    let mut acked = HashSet::new();
    for s in sends {
        acked.extend(s.await.unwrap());
    }
    assert_eq!(
        acked,
        (2..=51).collect::<HashSet<u64>>(),
        "dense seqs, one per send"
    );
    for (client, events) in &mut members {
        let got = events.timeline(&group.id, 51).await;
        let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=51).collect::<Vec<_>>(),
            "{} saw {seqs:?}",
            client.user_id()
        );
        // And nothing more: no duplicate is waiting behind.
        let extra = events
            .drain()
            .into_iter()
            .filter(|e| matches!(e, ClientEvent::Event(ev) if ev.conversation_id == group.id))
            .count();
        assert_eq!(extra, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_send_returns_the_original_seq() {
    let node = TestNode::start().await;
    let (alice, _e) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let send = pb::Send {
        conversation_id: dm.id.clone(),
        client_msg_id: "retry-me".into(),
        body: Some(pb::send::Body::Message(pb::MessageBody {
            text: "once".into(),
            reply_to_seq: 0,
            ..Default::default()
        })),
    };
    let first = alice.send(send.clone()).await.unwrap();
    let second = alice.send(send).await.unwrap();
    assert_eq!((first.seq, first.duplicate), (2, false));
    assert_eq!((second.seq, second.duplicate), (2, true));
    alice.send_text(&dm.id, "next").await.unwrap();
    let got = bob_ev.timeline(&dm.id, 3).await;
    assert_eq!(
        got.iter().map(text_of).collect::<Vec<_>>(),
        vec!["", "once", "next"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_complete_after_a_restart() {
    let mut node = TestNode::start().await;
    let (alice, _e) = node.user("alice").await;
    let (bob, _b) = node.user("bob").await;
    let group = alice
        .create_group("persist", &[bob.user_id()])
        .await
        .unwrap();
    for i in 0..30 {
        alice.send_text(&group.id, &format!("m{i}")).await.unwrap();
    }
    alice.close();
    bob.close();
    node.restart().await;
    let (bob, _b) = node.login("bob", Encoding::Json).await;
    let h = bob
        .history(pb::HistoryRequest {
            conversation_id: group.id.clone(),
            from_seq: 1,
            to_seq: 0,
            limit: 0,
            backward: false,
            thread_root_seq: 0,
        })
        .await
        .unwrap();
    assert_eq!(h.events.len(), 31);
    assert!(h.skipped.is_empty());
    assert_eq!(text_of(&h.events[30]), "m29");
    // The unused part of the pre-restart seq lease is a hole, reported as skipped.
    let ack = bob.send_text(&group.id, "after restart").await.unwrap();
    assert!(ack.seq > 31);
    let h = bob
        .history(pb::HistoryRequest {
            conversation_id: group.id.clone(),
            from_seq: 30,
            to_seq: 0,
            limit: 0,
            backward: false,
            thread_root_seq: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        h.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![30, 31, ack.seq]
    );
    assert_eq!(h.skipped, (32..ack.seq).collect::<Vec<_>>());
    // Scrolling up pages backwards from the head.
    let page = bob
        .history(pb::HistoryRequest {
            conversation_id: group.id.clone(),
            from_seq: 1,
            to_seq: 0,
            limit: 5,
            backward: true,
            thread_root_seq: 0,
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 5);
    assert!(page.has_more);
    assert_eq!(page.events.last().unwrap().seq, ack.seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_client_catches_up_by_sync() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    alice.send_text(&dm.id, "before").await.unwrap();
    bob_ev.timeline(&dm.id, 2).await;

    // The same client loses its connection: what is sent meanwhile arrives
    // after the reconnect, in order, once.
    bob.drop_connection();
    for i in 0..10 {
        alice
            .send_text(&dm.id, &format!("while away {i}"))
            .await
            .unwrap();
    }
    let got = bob_ev.timeline(&dm.id, 10).await;
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (3..=12).collect::<Vec<_>>()
    );

    // A device that was off entirely: a fresh login delivers the unread.
    bob.mark_read(&dm.id, 12).await.unwrap();
    bob.close();
    for i in 0..5 {
        alice
            .send_text(&dm.id, &format!("offline {i}"))
            .await
            .unwrap();
    }
    let (bob2, mut bob2_ev) = node.login("bob", Encoding::Proto).await;
    let got = bob2_ev.timeline(&dm.id, 5).await;
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (13..=17).collect::<Vec<_>>()
    );
    let sync = bob2.sync().await.unwrap();
    let state = sync
        .conversations
        .iter()
        .find(|c| c.conversation.as_ref().unwrap().id == dm.id)
        .unwrap();
    assert_eq!((state.head_seq, state.read_seq), (17, 12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_edits_and_deletes_are_timeline_events() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let m = alice.send_text(&dm.id, "typo").await.unwrap();
    let body = |b| pb::Send {
        conversation_id: dm.id.clone(),
        client_msg_id: parley_sdk::new_client_msg_id(),
        body: Some(b),
    };
    alice
        .send(body(pb::send::Body::Edit(pb::EditBody {
            target_seq: m.seq,
            text: "fixed".into(),
            ..Default::default()
        })))
        .await
        .unwrap();
    bob.send(body(pb::send::Body::Message(pb::MessageBody {
        text: "re".into(),
        reply_to_seq: m.seq,
        ..Default::default()
    })))
    .await
    .unwrap();
    let err = bob
        .send(body(pb::send::Body::Delete(pb::DeleteBody {
            target_seq: m.seq,
        })))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("forbidden"));
    alice
        .send(body(pb::send::Body::Delete(pb::DeleteBody {
            target_seq: m.seq,
        })))
        .await
        .unwrap();
    let got = bob_ev.timeline(&dm.id, 5).await;
    assert!(
        matches!(got[2].body, Some(pb::event::Body::Edit(ref e)) if e.target_seq == m.seq && e.text == "fixed")
    );
    assert!(
        matches!(got[3].body, Some(pb::event::Body::Message(ref r)) if r.reply_to_seq == m.seq)
    );
    assert!(matches!(got[4].body, Some(pb::event::Body::Delete(ref d)) if d.target_seq == m.seq));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_and_mentions_travel_as_events_and_history_sums_them_up() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user_with("alice", Encoding::Json).await;
    let (bob, mut bob_ev) = node.user_with("bob", Encoding::Proto).await;
    let (carol, _c) = node.user("carol").await;
    let group = alice
        .create_group("launch", &[bob.user_id(), carol.user_id()])
        .await
        .unwrap();
    let m = alice
        .send_message(
            &group.id,
            pb::MessageBody {
                text: "@bob @all ready?".into(),
                mention_ids: vec![bob.user_id()],
                mention_all: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // An emoji in JSON (alice) and by shortcode in protobuf (carol): one reaction.
    alice
        .react(&group.id, m.seq, "\u{1F680}", false)
        .await
        .unwrap();
    carol
        .react(&group.id, m.seq, ":rocket:", false)
        .await
        .unwrap();
    let err = carol
        .react(&group.id, m.seq, "\u{1F680}", false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("already_exists"));
    let err = carol
        .react(&group.id, m.seq, "rocket", false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_argument"));
    let undo = alice
        .react(&group.id, m.seq, "\u{1F680}", true)
        .await
        .unwrap();
    let got = bob_ev.timeline(&group.id, undo.seq as usize).await;
    assert!(matches!(&got[1].body, Some(pb::event::Body::Message(b))
        if b.mention_ids == [bob.user_id()] && b.mention_all));
    let reactions: Vec<(String, bool)> = got
        .iter()
        .filter_map(|e| match &e.body {
            Some(pb::event::Body::Reaction(r)) if r.target_seq == m.seq => {
                Some((e.sender_id.clone(), r.remove))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        reactions,
        [
            (alice.user_id(), false),
            (carol.user_id(), false),
            (alice.user_id(), true)
        ]
    );
    // A device that loads the message later sees its reactions with it.
    let h = bob
        .history(pb::HistoryRequest {
            conversation_id: group.id.clone(),
            from_seq: m.seq,
            to_seq: m.seq,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(h.reactions.len(), 1);
    assert_eq!(h.reactions[0].emoji, "\u{1F680}");
    assert_eq!(h.reactions[0].user_ids, [carol.user_id()]);
    // Mentioning someone who is not in the conversation is refused.
    let (dave, _d) = node.user("dave").await;
    let err = alice
        .send_message(
            &group.id,
            pb::MessageBody {
                text: "@dave".into(),
                mention_ids: vec![dave.user_id()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_argument"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_are_events_and_conversations_carry_them() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let m = alice.send_text(&dm.id, "the address").await.unwrap();
    let p = bob.pin(&dm.id, m.seq, false).await.unwrap();
    let err = alice.pin(&dm.id, m.seq, false).await.unwrap_err();
    assert_eq!(err.code(), Some("already_exists"));
    let got = bob_ev.timeline(&dm.id, p.seq as usize).await;
    assert!(
        matches!(&got.last().unwrap().body, Some(pb::event::Body::Pin(x)) if x.target_seq == m.seq)
    );
    let sync = alice.sync().await.unwrap();
    let conv = sync.conversations[0].conversation.as_ref().unwrap();
    assert_eq!(conv.pins.len(), 1);
    assert_eq!(
        (conv.pins[0].target_seq, conv.pins[0].pinned_by.as_str()),
        (m.seq, bob.user_id().as_str())
    );
    alice.pin(&dm.id, m.seq, true).await.unwrap();
    let err = alice.pin(&dm.id, m.seq, true).await.unwrap_err();
    assert_eq!(err.code(), Some("not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_renamed_and_handed_over_through_events() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user_with("alice", Encoding::Json).await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let group = alice.create_group("draft", &[bob.user_id()]).await.unwrap();
    alice
        .update_conversation(
            &group.id,
            pb::ConversationUpdate {
                title: Some("Launch".into()),
                description: Some("All things launch".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let err = bob
        .update_conversation(
            &group.id,
            pb::ConversationUpdate {
                title: Some("mine".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("forbidden"));
    let handover = alice
        .set_role(&group.id, &bob.user_id(), pb::Role::Owner)
        .await
        .unwrap();
    let got = bob_ev.timeline(&group.id, handover.seq as usize).await;
    assert!(matches!(&got[1].body, Some(pb::event::Body::Updated(u))
        if u.title.as_deref() == Some("Launch") && u.description.as_deref() == Some("All things launch")));
    assert!(matches!(&got[2].body, Some(pb::event::Body::RolesChanged(r)) if r.changes.len() == 2));
    let sync = bob.sync().await.unwrap();
    let conv = sync.conversations[0].conversation.as_ref().unwrap();
    assert_eq!(
        (conv.title.as_str(), conv.description.as_str()),
        ("Launch", "All things launch")
    );
    // The new owner may now change roles; the old one may not.
    let err = alice
        .set_role(&group.id, &bob.user_id(), pb::Role::Member)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("forbidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_tells_each_member_their_settings_unread_mentions_and_last_message() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user("alice").await;
    let (bob, _b) = node.user_with("bob", Encoding::Json).await;
    let group = alice.create_group("team", &[bob.user_id()]).await.unwrap();
    alice.send_text(&group.id, "one").await.unwrap();
    alice
        .send_message(
            &group.id,
            pb::MessageBody {
                text: "@bob two".into(),
                mention_ids: vec![bob.user_id()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let three = alice.send_text(&group.id, "three").await.unwrap();
    alice
        .react(&group.id, three.seq, ":tada:", false)
        .await
        .unwrap();
    bob.send_text(&group.id, "mine").await.unwrap();
    let quiet = pb::ConversationSettings {
        muted_until_ms: -1,
        archived: true,
        pinned_at_ms: 1_700_000_000_000,
        marked_unread: false,
        cleared_seq: 0,
    };
    let (_bob_phone, mut phone_ev) = node.login("bob", Encoding::Proto).await;
    assert_eq!(bob.update_settings(&group.id, quiet).await.unwrap(), quiet);
    // Bob's other device hears of it at once.
    let pushed = phone_ev
        .wait(|e| match e {
            ClientEvent::SettingsChanged(s) => Some(s.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (pushed.conversation_id.as_str(), pushed.settings),
        (group.id.as_str(), Some(quiet))
    );
    let state = |sync: pb::SyncReply| sync.conversations.into_iter().next().unwrap();
    let s = state(bob.sync().await.unwrap());
    assert_eq!(s.settings, Some(quiet));
    // Three messages from alice (bob's own and the reaction do not count).
    assert_eq!(
        (s.unread_count, s.mention_count, s.unread_capped),
        (3, 1, false)
    );
    assert_eq!(text_of(s.last_message.as_ref().unwrap()), "mine");
    // Alice sees none of bob's settings.
    let a = state(alice.sync().await.unwrap());
    assert_eq!(a.settings, Some(pb::ConversationSettings::default()));
    // Marked unread is cleared by reading.
    bob.update_settings(
        &group.id,
        pb::ConversationSettings {
            marked_unread: true,
            ..quiet
        },
    )
    .await
    .unwrap();
    bob.mark_read(&group.id, s.head_seq).await.unwrap();
    let s = state(bob.sync().await.unwrap());
    assert!(!s.settings.unwrap().marked_unread);
    assert_eq!((s.unread_count, s.mention_count), (0, 0));
    // Not a member: not found.
    let (carol, _c) = node.user("carol").await;
    let err = carol.update_settings(&group.id, quiet).await.unwrap_err();
    assert_eq!(err.code(), Some("not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_can_show_new_members_only_what_came_after_they_joined() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user_with("alice", Encoding::Json).await;
    let (bob, _b) = node.user("bob").await;
    let group = alice.create_group("quiet", &[bob.user_id()]).await.unwrap();
    alice.send_text(&group.id, "before").await.unwrap();
    alice
        .update_conversation(
            &group.id,
            pb::ConversationUpdate {
                history_visibility: Some(pb::HistoryVisibility::SinceJoined as i32),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (carol, mut carol_ev) = node.user("carol").await;
    let added = alice
        .add_members(&group.id, &[carol.user_id()], pb::Role::Member)
        .await
        .unwrap();
    let after = alice.send_text(&group.id, "after").await.unwrap();
    let h = carol
        .history(pb::HistoryRequest {
            conversation_id: group.id.clone(),
            from_seq: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(h.visible_from, added.seq);
    assert_eq!(h.events.first().map(|e| e.seq), Some(added.seq));
    // Carol's client delivers from her joining on, and nothing before.
    let got = carol_ev.timeline(&group.id, 2).await;
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [added.seq, after.seq]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_receipts_and_presence_reach_the_other_side() {
    let node = TestNode::start().await;
    let (alice, mut alice_ev) = node.user("alice").await;
    let (bob, _b) = node.user("bob").await;
    let group = alice.create_group("live", &[bob.user_id()]).await.unwrap();
    // bob goes away and comes back: alice, who shares a conversation, sees it.
    bob.close();
    let bob_id = bob.user_id();
    alice_ev
        .wait(|e| {
            matches!(e, ClientEvent::Presence(p) if p.user_id == bob_id && !p.online).then_some(())
        })
        .await;
    let (bob, _b) = node.login("bob", Encoding::Proto).await;
    alice_ev
        .wait(|e| {
            matches!(e, ClientEvent::Presence(p) if p.user_id == bob_id && p.online).then_some(())
        })
        .await;
    let online = alice.query_presence(&[bob.user_id()]).await.unwrap();
    assert!(online[0].online);
    bob.typing(&group.id).await.unwrap();
    alice_ev
        .wait(|e| matches!(e, ClientEvent::Typing(t) if t.user_id == bob_id).then_some(()))
        .await;
    alice.send_text(&group.id, "read me").await.unwrap();
    assert_eq!(bob.mark_read(&group.id, 2).await.unwrap(), 2);
    alice_ev
        .wait(|e| {
            matches!(e, ClientEvent::Receipt(r) if r.user_id == bob_id && r.read_seq == 2)
                .then_some(())
        })
        .await;
    // Presence is private to people who share a conversation.
    let (carol, _c) = node.user("carol").await;
    assert!(
        carol
            .query_presence(&[bob.user_id()])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_and_leave_groups() {
    let node = TestNode::start().await;
    let (owner, _o) = node.user("owner").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let (carol, mut carol_ev) = node.user("carol").await;
    let group = owner.create_group("team", &[bob.user_id()]).await.unwrap();
    owner
        .add_members(&group.id, &[carol.user_id()], pb::Role::Admin)
        .await
        .unwrap();
    // Carol, who just joined, is caught up from the start (the SDK's
    // backfill), ending with her own addition.
    let got = carol_ev.timeline(&group.id, 2).await;
    assert!(matches!(got[0].body, Some(pb::event::Body::Created(_))));
    assert!(
        matches!(got[1].body, Some(pb::event::Body::MembersAdded(ref m)) if m.user_ids == vec![carol.user_id()])
    );
    assert_eq!(
        bob.add_members(&group.id, &[carol.user_id()], pb::Role::Member)
            .await
            .unwrap_err()
            .code(),
        Some("forbidden")
    );
    carol
        .remove_member(&group.id, &bob.user_id())
        .await
        .unwrap();
    // The removed member is told, then shut out.
    let got = bob_ev.timeline(&group.id, 3).await;
    assert!(
        matches!(got[2].body, Some(pb::event::Body::MemberRemoved(ref r)) if r.user_id == bob.user_id())
    );
    assert_eq!(
        bob.send_text(&group.id, "let me in")
            .await
            .unwrap_err()
            .code(),
        Some("not_found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_forwarded_as_it_reads_now_with_its_author() {
    let node = TestNode::start().await;
    let (ann, _a) = node.user("ann").await;
    let (ben, mut ben_ev) = node.user("ben").await;
    let (cal, _c) = node.user("cal").await;
    let team = ann
        .create_group("team", &[ben.user_id(), cal.user_id()])
        .await
        .unwrap();
    let original = ann
        .send_text(&team.id, "@ben the numbers are in")
        .await
        .unwrap();
    let edit = pb::EditBody {
        target_seq: original.seq,
        text: "the numbers are final".into(),
        ..Default::default()
    };
    ann.send_body(&team.id, pb::send::Body::Edit(edit))
        .await
        .unwrap();
    let dm = cal.create_direct(&ben.user_id()).await.unwrap();
    let ack = cal.forward(&team.id, original.seq, &dm.id).await.unwrap();
    let got = ben_ev.timeline(&dm.id, 2).await;
    let copy = got
        .iter()
        .find(|e| e.seq == ack.seq)
        .expect("the copy arrives");
    let Some(pb::event::Body::Message(m)) = &copy.body else {
        panic!("a message: {copy:?}")
    };
    assert_eq!(m.text, "the numbers are final", "the latest edit");
    assert_eq!(copy.sender_id, cal.user_id());
    let from = m.forwarded.as_ref().expect("marked as forwarded");
    assert_eq!(
        (from.sender_id.as_str(), from.sent_at_ms),
        (ann.user_id().as_str(), original.sent_at_ms)
    );
    assert!(m.mention_ids.is_empty() && !m.mention_all);
    // Forwarded again: still the first author.
    let again = ben.forward(&dm.id, ack.seq, &team.id).await.unwrap();
    let h = ann
        .history(pb::HistoryRequest {
            conversation_id: team.id.clone(),
            from_seq: again.seq,
            ..Default::default()
        })
        .await
        .unwrap();
    let Some(pb::event::Body::Message(m)) = &h.events[0].body else {
        panic!()
    };
    assert_eq!(m.forwarded.as_ref().unwrap().sender_id, ann.user_id());
    // Nobody forwards from or into a conversation they are not in, claims a
    // forward themselves, or forwards a deleted message.
    let (eve, _e) = node.user("eve").await;
    let code = |r: Result<pb::SendAck, parley_sdk::SdkError>| {
        r.unwrap_err().code().unwrap_or("").to_string()
    };
    assert_eq!(
        code(eve.forward(&team.id, original.seq, &team.id).await),
        "not_found"
    );
    let eve_dm = eve.create_direct(&ann.user_id()).await.unwrap();
    assert_eq!(
        code(ben.forward(&team.id, original.seq, &eve_dm.id).await),
        "not_found"
    );
    let forged = pb::MessageBody {
        text: "ann said so".into(),
        forwarded: Some(pb::Forwarded {
            sender_id: ann.user_id(),
            sent_at_ms: 1,
        }),
        ..Default::default()
    };
    assert_eq!(
        code(ben.send_body(&dm.id, pb::send::Body::Message(forged)).await),
        "invalid_argument"
    );
    let delete = pb::DeleteBody {
        target_seq: original.seq,
    };
    ann.send_body(&team.id, pb::send::Body::Delete(delete))
        .await
        .unwrap();
    assert_eq!(
        code(cal.forward(&team.id, original.seq, &dm.id).await),
        "not_found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_my_messages_within_seconds_and_nothing_of_others() {
    let node = TestNode::start().await;
    let (ann, _a) = node.user("ann").await;
    let (ben, _b) = node.user("ben").await;
    let (eve, _e) = node.user("eve").await;
    let team = ann.create_group("team", &[ben.user_id()]).await.unwrap();
    let sent = ann
        .send_text(&team.id, "the staging deploy is green")
        .await
        .unwrap();
    let secret = eve.create_group("eve's", &[]).await.unwrap();
    eve.send_text(&secret.id, "deploy the secret thing")
        .await
        .unwrap();
    let req = || pb::SearchRequest {
        query: "deploy".into(),
        ..Default::default()
    };
    let deadline = std::time::Instant::now() + common::WAIT;
    let hits = loop {
        let hits = ben.search(req()).await.unwrap();
        if !hits.is_empty() || std::time::Instant::now() > deadline {
            break hits;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0].conversation_id.as_str(), hits[0].seq),
        (team.id.as_str(), sent.seq)
    );
    assert!(hits[0].fragment.contains("deploy"));
    let empty = pb::SearchRequest::default();
    assert_eq!(
        ben.search(empty).await.unwrap_err().code(),
        Some("invalid_argument")
    );
}
