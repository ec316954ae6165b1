//! Every listing reply is a page bounded by count and bytes: history of
//! long messages, sync of a user in many conversations, members of a large
//! group. Each is checked at its limits, and paging through returns every
//! item exactly once.

mod common;
use common::*;
use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;
use prost::Message;
use std::collections::BTreeSet;

/// The bytes a page's items may take (the storage crate's budget).
const BUDGET: usize = 96 * 1024;

fn sync_page(after: &str, limit: u32) -> pb::SyncPageRequest {
    pb::SyncPageRequest {
        caller: user("alice"),
        page: Some(pb::SyncRequest {
            after: after.into(),
            limit,
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn history_of_long_messages_is_cut_at_the_byte_budget() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    let long = "x".repeat(16 * 1024);
    for i in 0..40 {
        s.append(text(&conv.id, "alice", &format!("m{i}"), &long))
            .await
            .unwrap();
    }
    // Forward from the start: cut well before the count limit.
    let page = s
        .history(history(&conv.id, "bob", 1, 0, 500, false))
        .await
        .unwrap();
    let bytes: usize = page.events.iter().map(|e| e.encoded_len()).sum();
    assert!(bytes <= BUDGET, "{bytes}");
    assert!(page.has_more);
    assert!(page.events.len() < 40);
    assert_eq!(page.covered_to, page.events.last().unwrap().seq);
    // Paging on from covered_to + 1 returns every seq once, in order.
    let mut seen: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
    let mut next = page.covered_to + 1;
    loop {
        let p = s
            .history(history(&conv.id, "bob", next, 0, 500, false))
            .await
            .unwrap();
        seen.extend(p.events.iter().map(|e| e.seq));
        if !p.has_more {
            break;
        }
        next = p.covered_to + 1;
    }
    assert_eq!(seen, (1..=41).collect::<Vec<_>>());
    // Backward: the newest events that fit, covered_from at the first.
    let back = s
        .history(history(&conv.id, "bob", 1, 0, 100, true))
        .await
        .unwrap();
    assert!(back.has_more);
    assert_eq!(back.events.last().unwrap().seq, 41);
    assert_eq!(back.covered_from, back.events[0].seq);
    assert!(back.skipped.is_empty());
}

#[tokio::test]
async fn history_refuses_a_limit_over_the_maximum() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    let r = s.history(history(&conv.id, "bob", 1, 0, 501, false)).await;
    assert!(matches!(r, Err(ServiceError::InvalidArgument(_))), "{r:?}");
    s.history(history(&conv.id, "bob", 1, 0, 500, false))
        .await
        .unwrap();
}

#[tokio::test]
async fn sync_pages_through_every_conversation_once() {
    let f = fixture();
    let s = &f.storage;
    let mut created = BTreeSet::new();
    for i in 0..25 {
        let c = s
            .create_conversation(group("alice", &[&format!("u{i}")]))
            .await
            .unwrap();
        created.insert(c.id);
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let page = s.sync(sync_page(&after, 10)).await.unwrap();
        pages += 1;
        assert!(page.conversations.len() <= 10);
        seen.extend(
            page.conversations
                .iter()
                .map(|c| c.conversation.as_ref().unwrap().id.clone()),
        );
        if !page.has_more {
            assert!(page.next_after.is_empty());
            break;
        }
        after = page.next_after;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created.into_iter().collect::<Vec<_>>());
    let r = s.sync(sync_page("", 501)).await;
    assert!(matches!(r, Err(ServiceError::InvalidArgument(_))), "{r:?}");
}

#[tokio::test]
async fn sync_of_many_long_titled_conversations_stays_inside_the_budget() {
    let f = fixture();
    let s = &f.storage;
    for i in 0..120 {
        let mut g = group("alice", &["bob"]);
        g.title = format!("{i:03}{}", "\u{1D11E}".repeat(197));
        s.create_conversation(g).await.unwrap();
    }
    let page = s.sync(sync_page("", 500)).await.unwrap();
    assert!(page.has_more);
    // The budget may be passed by the one state that crossed it, no more.
    assert!(
        page.encoded_len() <= BUDGET + 2 * 1024,
        "{}",
        page.encoded_len()
    );
    let rest = s.sync(sync_page(&page.next_after, 500)).await.unwrap();
    assert_eq!(page.conversations.len() + rest.conversations.len(), 120);
    assert!(!rest.has_more);
}

#[tokio::test]
async fn large_groups_carry_a_count_and_a_first_page_of_members() {
    let f = fixture();
    let s = &f.storage;
    let others: Vec<String> = (0..1500).map(|i| format!("member-{i:05}")).collect();
    let refs: Vec<&str> = others.iter().map(String::as_str).collect();
    let conv = s.create_conversation(group("alice", &refs)).await.unwrap();
    assert_eq!(conv.member_count, 1501);
    assert_eq!(conv.members.len(), 500);
    let got = s
        .get_conversation(pb::ConversationRequest {
            conversation_id: conv.id.clone(),
            caller: user("member-00007"),
        })
        .await
        .unwrap();
    assert_eq!((got.member_count, got.members.len()), (1501, 500));
    // Paging the members returns each once, in user-id order.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .list_members(pb::MembersRequest {
                conversation_id: conv.id.clone(),
                caller: user("alice"),
                after: after.clone(),
                limit: 1000,
            })
            .await
            .unwrap();
        assert!(page.encoded_len() <= BUDGET);
        seen.extend(page.members.into_iter().map(|m| m.user_id));
        if !page.has_more {
            break;
        }
        after = page.next_after;
    }
    let mut expected: Vec<String> = others.clone();
    expected.push("alice".into());
    expected.sort();
    assert_eq!(seen, expected);
    let r = s
        .list_members(pb::MembersRequest {
            conversation_id: conv.id.clone(),
            caller: user("alice"),
            limit: 1001,
            ..Default::default()
        })
        .await;
    assert!(matches!(r, Err(ServiceError::InvalidArgument(_))), "{r:?}");
    // Internal callers (fanout) ask for all of them at once.
    let all = s
        .list_members(pb::MembersRequest {
            conversation_id: conv.id.clone(),
            caller: user("alice"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.members.len(), 1501);
}
