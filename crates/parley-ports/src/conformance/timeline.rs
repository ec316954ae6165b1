use super::unique;
use crate::{PinRow, ReactionRow, ReadRange, TimelineStore};
use parley_proto::v1 as pb;
use std::sync::Arc;

fn conv(id: &str) -> pb::Conversation {
    pb::Conversation {
        id: id.into(),
        kind: pb::ConversationKind::Group as i32,
        title: "t".into(),
        created_at_ms: 1,
        created_by: "u".into(),
        members: vec![],
        member_count: 0,
        ..Default::default()
    }
}

fn member(user: &str, role: pb::Role) -> pb::Member {
    pb::Member {
        user_id: user.into(),
        role: role as i32,
        read_seq: 0,
    }
}

fn event(conv: &str, seq: u64, sender: &str, cmid: &str) -> pb::Event {
    pb::Event {
        conversation_id: conv.into(),
        seq,
        sender_id: sender.into(),
        client_msg_id: cmid.into(),
        sent_at_ms: 42,
        body: Some(pb::event::Body::Message(pb::MessageBody {
            text: format!("m{seq}"),
            ..Default::default()
        })),
    }
}

fn all(from: u64, to: u64) -> ReadRange {
    ReadRange {
        from,
        to,
        limit: 1000,
        backward: false,
    }
}

/// Runs every timeline-store check.
pub async fn run(store: Arc<dyn TimelineStore>) {
    conversations_and_members(&*store).await;
    leases_never_overlap(store.clone()).await;
    append_read_and_dedup(&*store).await;
    ranges_and_holes(&*store).await;
    read_watermarks(&*store).await;
    reactions(&*store).await;
    pins(&*store).await;
    settings(&*store).await;
    joins(&*store).await;
    records(&*store).await;
    threads(&*store).await;
    redactions(&*store).await;
}

async fn redactions(s: &dyn TimelineStore) {
    let c = unique("c");
    s.append(&[event(&c, 1, "u", "r1"), event(&c, 2, "u", "r2")])
        .await
        .unwrap();
    let gone = |seq| pb::Event {
        body: Some(pb::event::Body::Redacted(pb::Redacted {
            delete_seq: 9,
            ..Default::default()
        })),
        ..event(&c, seq, "u", if seq == 1 { "r1" } else { "x" })
    };
    // Seq 5 was never written: nothing is created for it.
    s.redact(&[gone(1), gone(5)]).await.unwrap();
    let rows = s.read_range(&c, all(1, 10)).await.unwrap();
    assert_eq!(rows, vec![gone(1), event(&c, 2, "u", "r2")]);
    // The send's dedup key still answers with its seq.
    assert_eq!(s.dedup_lookup(&c, "u", "r1").await.unwrap(), Some(1));
}

async fn conversations_and_members(s: &dyn TimelineStore) {
    let c = unique("c");
    assert!(s.conversation(&c).await.unwrap().is_none());
    s.create_conversation(&conv(&c)).await.unwrap();
    assert_eq!(s.conversation(&c).await.unwrap().unwrap(), conv(&c));
    assert!(
        matches!(
            s.create_conversation(&conv(&c)).await,
            Err(crate::StoreError::AlreadyExists(_))
        ),
        "creating a conversation twice must fail"
    );
    // Title and description change; nothing else does.
    let renamed = pb::Conversation {
        title: "renamed".into(),
        description: "what we do".into(),
        history_visibility: pb::HistoryVisibility::SinceJoined as i32,
        ..conv(&c)
    };
    s.update_conversation(&pb::Conversation {
        kind: 0,
        created_by: "someone else".into(),
        ..renamed.clone()
    })
    .await
    .unwrap();
    assert_eq!(s.conversation(&c).await.unwrap().unwrap(), renamed);
    assert!(matches!(
        s.update_conversation(&conv(&unique("c"))).await,
        Err(crate::StoreError::NotFound(_))
    ));
    let (a, b) = (unique("a"), unique("b"));
    s.put_members(
        &c,
        &[member(&a, pb::Role::Owner), member(&b, pb::Role::Member)],
    )
    .await
    .unwrap();
    let mut ms = s.members(&c).await.unwrap();
    ms.sort_by(|x, y| x.user_id.cmp(&y.user_id));
    let mut expected = vec![member(&a, pb::Role::Owner), member(&b, pb::Role::Member)];
    expected.sort_by(|x, y| x.user_id.cmp(&y.user_id));
    assert_eq!(ms, expected);
    assert_eq!(s.user_conversations(&a).await.unwrap(), vec![c.clone()]);
    assert_eq!(
        s.member(&c, &b).await.unwrap().unwrap().role,
        pb::Role::Member as i32
    );

    // Role updates keep the read watermark.
    s.set_read(&c, &b, 0).await.unwrap();
    s.put_members(&c, &[member(&b, pb::Role::Admin)])
        .await
        .unwrap();
    assert_eq!(
        s.member(&c, &b).await.unwrap().unwrap().role,
        pb::Role::Admin as i32
    );
    // The whole list agrees with the rows after every write (a store that
    // caches lists must not answer from before the write).
    let listed_role = |ms: Vec<pb::Member>| ms.into_iter().find(|m| m.user_id == b).map(|m| m.role);
    assert_eq!(
        listed_role(s.members(&c).await.unwrap()),
        Some(pb::Role::Admin as i32)
    );

    s.remove_member(&c, &b).await.unwrap();
    assert!(s.member(&c, &b).await.unwrap().is_none());
    assert!(s.user_conversations(&b).await.unwrap().is_empty());
    assert_eq!(s.members(&c).await.unwrap().len(), 1);
}

async fn leases_never_overlap(s: Arc<dyn TimelineStore>) {
    let c = unique("c");
    let first = s.lease_seqs(&c, 10).await.unwrap();
    assert_eq!(first, 1..11, "the first lease starts at seq 1");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..5 {
                got.push(s.lease_seqs(&c, 7).await.unwrap());
            }
            got
        }));
    }
    let mut ranges = vec![first];
    for t in tasks {
        ranges.extend(t.await.unwrap());
    }
    ranges.sort_by_key(|r| r.start);
    for w in ranges.windows(2) {
        assert!(
            w[0].end <= w[1].start,
            "overlapping leases {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    assert!(
        ranges
            .iter()
            .all(|r| r.end - r.start == 10 || r.end - r.start == 7)
    );
}

async fn append_read_and_dedup(s: &dyn TimelineStore) {
    let c = unique("c");
    assert_eq!(s.head(&c).await.unwrap(), 0);
    let evs: Vec<_> = (1..=5)
        .map(|i| event(&c, i, "alice", &format!("m{i}")))
        .collect();
    s.append(&evs[..2]).await.unwrap();
    s.append(&evs[2..]).await.unwrap();
    assert_eq!(s.head(&c).await.unwrap(), 5);
    assert_eq!(s.read_range(&c, all(1, 5)).await.unwrap(), evs);
    assert_eq!(s.dedup_lookup(&c, "alice", "m3").await.unwrap(), Some(3));
    assert_eq!(
        s.dedup_lookup(&c, "bob", "m3").await.unwrap(),
        None,
        "dedup is per sender"
    );
    assert_eq!(
        s.dedup_lookup(&unique("c"), "alice", "m3").await.unwrap(),
        None
    );
    // Events without a client_msg_id (membership changes) have no dedup key.
    s.append(&[event(&c, 6, "alice", "")]).await.unwrap();
    assert_eq!(s.dedup_lookup(&c, "alice", "").await.unwrap(), None);
    // Binary-safe, unicode text survives.
    let mut e = event(&c, 7, "alice", "m7");
    e.body = Some(pb::event::Body::Message(pb::MessageBody {
        text: "héllo \u{1F600}\0".into(),
        reply_to_seq: 3,
        mention_ids: vec!["bob".into()],
        mention_all: true,
        thread_root_seq: 2,
        forwarded: Some(pb::Forwarded {
            sender_id: "carol".into(),
            sent_at_ms: 7,
        }),
    }));
    s.append(std::slice::from_ref(&e)).await.unwrap();
    assert_eq!(s.read_range(&c, all(7, 7)).await.unwrap(), vec![e]);
}

async fn ranges_and_holes(s: &dyn TimelineStore) {
    let c = unique("c");
    let seqs = [1u64, 2, 3, 5, 6, 9, 10];
    let evs: Vec<_> = seqs
        .iter()
        .map(|&i| event(&c, i, "a", &format!("x{i}")))
        .collect();
    s.append(&evs).await.unwrap();
    assert_eq!(s.head(&c).await.unwrap(), 10);
    let got: Vec<u64> = s
        .read_range(&c, all(2, 9))
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(got, vec![2, 3, 5, 6, 9]);
    let fwd = ReadRange {
        from: 1,
        to: 10,
        limit: 3,
        backward: false,
    };
    let got: Vec<u64> = s
        .read_range(&c, fwd)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(got, vec![1, 2, 3]);
    let back = ReadRange {
        from: 1,
        to: 10,
        limit: 3,
        backward: true,
    };
    let got: Vec<u64> = s
        .read_range(&c, back)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        got,
        vec![6, 9, 10],
        "backward reads return the newest events, in ascending order"
    );
    assert!(s.read_range(&c, all(11, 20)).await.unwrap().is_empty());
    // Another conversation whose id extends this one's does not leak in.
    let c2 = format!("{c}0");
    s.append(&[event(&c2, 4, "a", "y")]).await.unwrap();
    let got: Vec<u64> = s
        .read_range(&c, all(1, 10))
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(got, seqs.to_vec());
}

async fn read_watermarks(s: &dyn TimelineStore) {
    let c = unique("c");
    s.create_conversation(&conv(&c)).await.unwrap();
    s.put_members(&c, &[member("reader", pb::Role::Member)])
        .await
        .unwrap();
    assert_eq!(s.members(&c).await.unwrap()[0].read_seq, 0);
    assert_eq!(s.set_read(&c, "reader", 5).await.unwrap(), 5);
    assert_eq!(
        s.members(&c).await.unwrap()[0].read_seq,
        5,
        "the member list shows the new watermark"
    );
    assert_eq!(
        s.set_read(&c, "reader", 3).await.unwrap(),
        5,
        "watermarks never go down"
    );
    assert_eq!(s.member(&c, "reader").await.unwrap().unwrap().read_seq, 5);
    s.put_members(&c, &[member("reader", pb::Role::Admin)])
        .await
        .unwrap();
    assert_eq!(
        s.member(&c, "reader").await.unwrap().unwrap().read_seq,
        5,
        "role change keeps the watermark"
    );
    assert_eq!(s.set_read(&c, "stranger", 9).await.unwrap(), 0);
    assert!(
        s.member(&c, "stranger").await.unwrap().is_none(),
        "set_read never creates members"
    );
}

fn reaction(conv: &str, seq: u64, user: &str, target: u64, emoji: &str, remove: bool) -> pb::Event {
    pb::Event {
        body: Some(pb::event::Body::Reaction(pb::ReactionBody {
            target_seq: target,
            emoji: emoji.into(),
            remove,
        })),
        ..event(conv, seq, user, &format!("r{seq}"))
    }
}

fn row(emoji: &str, user: &str, seq: u64) -> ReactionRow {
    ReactionRow {
        emoji: emoji.into(),
        user_id: user.into(),
        seq,
    }
}

async fn reactions(s: &dyn TimelineStore) {
    let c = unique("c");
    s.append(&[event(&c, 1, "alice", "m1"), event(&c, 2, "alice", "m2")])
        .await
        .unwrap();
    assert!(s.reactions(&c, 1).await.unwrap().is_empty());
    // A multi-codepoint emoji, a shortcode, several users, two messages.
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
    s.append(&[
        reaction(&c, 3, "bob", 1, "\u{1F44D}", false),
        reaction(&c, 4, "carol", 1, family, false),
    ])
    .await
    .unwrap();
    s.append(&[reaction(&c, 5, "alice", 1, "\u{1F44D}", false)])
        .await
        .unwrap();
    s.append(&[reaction(&c, 6, "bob", 2, ":party_parrot:", false)])
        .await
        .unwrap();
    assert_eq!(
        s.reactions(&c, 1).await.unwrap(),
        vec![
            row("\u{1F44D}", "bob", 3),
            row(family, "carol", 4),
            row("\u{1F44D}", "alice", 5)
        ],
        "rows in the order they were made"
    );
    assert_eq!(
        s.reactions(&c, 2).await.unwrap(),
        vec![row(":party_parrot:", "bob", 6)]
    );
    // A removal deletes the row; the event stays in the timeline.
    s.append(&[reaction(&c, 7, "bob", 1, "\u{1F44D}", true)])
        .await
        .unwrap();
    assert_eq!(
        s.reactions(&c, 1).await.unwrap(),
        vec![row(family, "carol", 4), row("\u{1F44D}", "alice", 5)]
    );
    assert_eq!(s.read_range(&c, all(7, 7)).await.unwrap().len(), 1);
    // Adding again after a removal is a new row under the new seq.
    s.append(&[reaction(&c, 8, "bob", 1, "\u{1F44D}", false)])
        .await
        .unwrap();
    assert_eq!(
        s.reactions(&c, 1).await.unwrap().last(),
        Some(&row("\u{1F44D}", "bob", 8))
    );
    // Another message's or conversation's reactions do not leak in (seq
    // 256 shares a byte with seq 1 in big-endian keys; an id extending
    // this one's shares its prefix).
    s.append(&[reaction(&c, 9, "dave", 256, "\u{1F44D}", false)])
        .await
        .unwrap();
    let c2 = format!("{c}0");
    s.append(&[reaction(&c2, 1, "erin", 1, "\u{1F44D}", false)])
        .await
        .unwrap();
    assert_eq!(s.reactions(&c, 1).await.unwrap().len(), 3);
    assert_eq!(
        s.reactions(&c, 256).await.unwrap(),
        vec![row("\u{1F44D}", "dave", 9)]
    );
}

fn pin(conv: &str, seq: u64, user: &str, target: u64, unpin: bool) -> pb::Event {
    pb::Event {
        body: Some(pb::event::Body::Pin(pb::PinBody {
            target_seq: target,
            unpin,
        })),
        ..event(conv, seq, user, &format!("p{seq}"))
    }
}

async fn pins(s: &dyn TimelineStore) {
    let c = unique("c");
    assert!(s.pins(&c).await.unwrap().is_empty());
    s.append(&[pin(&c, 5, "bob", 256, false), pin(&c, 6, "alice", 1, false)])
        .await
        .unwrap();
    s.append(&[pin(&c, 7, "carol", 3, false)]).await.unwrap();
    let row = |target_seq: u64, by: &str, seq: u64| PinRow {
        target_seq,
        pinned_by: by.into(),
        seq,
    };
    assert_eq!(
        s.pins(&c).await.unwrap(),
        vec![row(256, "bob", 5), row(1, "alice", 6), row(3, "carol", 7)],
        "oldest pin first"
    );
    s.append(&[pin(&c, 8, "alice", 256, true)]).await.unwrap();
    // Pinned again later: a new row under the new seq.
    s.append(&[pin(&c, 9, "dave", 256, false)]).await.unwrap();
    assert_eq!(
        s.pins(&c).await.unwrap(),
        vec![row(1, "alice", 6), row(3, "carol", 7), row(256, "dave", 9)]
    );
    // Another conversation's pins do not leak in.
    s.append(&[pin(&format!("{c}0"), 1, "erin", 1, false)])
        .await
        .unwrap();
    assert_eq!(s.pins(&c).await.unwrap().len(), 3);
}

async fn settings(s: &dyn TimelineStore) {
    let c = unique("c");
    assert_eq!(
        s.settings(&c, "u").await.unwrap(),
        pb::ConversationSettings::default()
    );
    let muted = pb::ConversationSettings {
        muted_until_ms: -1,
        archived: true,
        pinned_at_ms: 7,
        marked_unread: true,
        cleared_seq: 9,
    };
    s.put_settings(&c, "u", &muted).await.unwrap();
    assert_eq!(s.settings(&c, "u").await.unwrap(), muted);
    assert_eq!(
        s.settings(&c, "v").await.unwrap(),
        pb::ConversationSettings::default(),
        "settings are per user"
    );
    s.put_settings(&c, "u", &pb::ConversationSettings::default())
        .await
        .unwrap();
    assert_eq!(
        s.settings(&c, "u").await.unwrap(),
        pb::ConversationSettings::default()
    );
}

async fn joins(s: &dyn TimelineStore) {
    let c = unique("c");
    assert_eq!(s.joined(&c, "u").await.unwrap(), 0, "founding members: 0");
    s.set_joined(&c, "u", 17).await.unwrap();
    assert_eq!(s.joined(&c, "u").await.unwrap(), 17);
    assert_eq!(s.joined(&c, "v").await.unwrap(), 0);
    // Added again later: the latest joining counts.
    s.set_joined(&c, "u", 40).await.unwrap();
    assert_eq!(s.joined(&c, "u").await.unwrap(), 40);
}

async fn records(s: &dyn TimelineStore) {
    use crate::{RecordKey, RecordKind, RecordWrite};
    let scope = unique("s");
    let k = |kind, id: &str| RecordKey::new(kind, &scope, id);
    assert_eq!(s.record(&k(RecordKind::Pair, "a")).await.unwrap(), None);
    s.write_records(vec![
        RecordWrite::Put(k(RecordKind::Block, "b"), b"2".to_vec()),
        RecordWrite::Put(k(RecordKind::Block, "a"), b"1".to_vec()),
        RecordWrite::Put(k(RecordKind::Block, "c"), vec![]),
        RecordWrite::Put(k(RecordKind::Invite, "a"), b"other kind".to_vec()),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.record(&k(RecordKind::Block, "a")).await.unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(
        s.record(&k(RecordKind::Block, "c")).await.unwrap(),
        Some(vec![]),
        "an empty value is a value"
    );
    let ids = |rows: Vec<(String, Vec<u8>)>| rows.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.records(RecordKind::Block, &scope, "", 10).await.unwrap()),
        ["a", "b", "c"],
        "listed in id order, one kind only"
    );
    assert_eq!(
        ids(s.records(RecordKind::Block, &scope, "a", 1).await.unwrap()),
        ["b"],
        "after and limit"
    );
    assert!(
        s.records(RecordKind::Block, &unique("s"), "", 10)
            .await
            .unwrap()
            .is_empty(),
        "scopes are apart"
    );
    // A scope that is a prefix of another does not see the other's rows.
    s.write_records(vec![RecordWrite::Put(
        RecordKey::new(RecordKind::Block, &format!("{scope}x"), "z"),
        vec![],
    )])
    .await
    .unwrap();
    assert_eq!(
        s.records(RecordKind::Block, &scope, "", 10)
            .await
            .unwrap()
            .len(),
        3
    );
    // Replace and delete together.
    s.write_records(vec![
        RecordWrite::Put(k(RecordKind::Block, "a"), b"new".to_vec()),
        RecordWrite::Delete(k(RecordKind::Block, "b")),
        RecordWrite::Delete(k(RecordKind::Pair, "never written")),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.records(RecordKind::Block, &scope, "", 10).await.unwrap(),
        [
            ("a".to_string(), b"new".to_vec()),
            ("c".to_string(), vec![])
        ]
    );
    assert_eq!(
        s.record(&k(RecordKind::Invite, "a")).await.unwrap(),
        Some(b"other kind".to_vec())
    );
}

async fn threads(s: &dyn TimelineStore) {
    use crate::ThreadRow;
    let c = unique("c");
    let reply = |seq: u64, root: u64, sender: &str| pb::Event {
        body: Some(pb::event::Body::Message(pb::MessageBody {
            text: "in a thread".into(),
            thread_root_seq: root,
            ..Default::default()
        })),
        ..event(&c, seq, sender, "")
    };
    s.append(&[
        event(&c, 1, "u", ""),
        event(&c, 2, "u", ""),
        reply(3, 1, "v"),
    ])
    .await
    .unwrap();
    s.append(&[reply(4, 2, "u"), reply(5, 1, "u")])
        .await
        .unwrap();
    let row = |root_seq, seq, sender: &str| ThreadRow {
        root_seq,
        seq,
        sender_id: sender.into(),
    };
    assert_eq!(
        s.thread_rows(&c, (1, 1)).await.unwrap(),
        [row(1, 3, "v"), row(1, 5, "u")]
    );
    assert_eq!(
        s.thread_rows(&c, (1, 2)).await.unwrap(),
        [row(1, 3, "v"), row(1, 5, "u"), row(2, 4, "u")],
        "by root, then seq"
    );
    assert!(s.thread_rows(&c, (3, 100)).await.unwrap().is_empty());
    assert!(s.thread_rows(&c, (2, 1)).await.unwrap().is_empty());
    assert!(
        s.thread_rows(&unique("c"), (1, 2))
            .await
            .unwrap()
            .is_empty(),
        "per conversation"
    );
    // Roots far apart (other partitions of a bucketed store) in one read.
    s.append(&[reply(6, 5000, "w")]).await.unwrap();
    assert_eq!(
        s.thread_rows(&c, (2, 9000)).await.unwrap(),
        [row(2, 4, "u"), row(5000, 6, "w")]
    );
}
