//! The conversation list as a client shows it: pinned first, then by last
//! activity, paged by an opaque cursor, filtered to the inbox or the
//! archive, and re-ordered as soon as a conversation has a new message.

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;
use std::collections::HashSet;

mod common;
use common::*;

fn list(
    order: pb::SyncOrder,
    filter: pb::SyncFilter,
    after: &str,
    limit: u32,
) -> pb::SyncPageRequest {
    pb::SyncPageRequest {
        caller: user("bob"),
        page: Some(pb::SyncRequest {
            after: after.into(),
            limit,
            order: order as i32,
            filter: filter as i32,
        }),
    }
}

/// Every page of bob's list, in order.
async fn all_pages(
    s: &parley_storage::StorageService,
    order: pb::SyncOrder,
    filter: pb::SyncFilter,
    limit: u32,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.sync(list(order, filter, &after, limit)).await.unwrap();
        assert!(page.conversations.len() <= limit as usize);
        ids.extend(
            page.conversations
                .iter()
                .map(|c| c.conversation.clone().unwrap().id),
        );
        if !page.has_more {
            assert!(page.next_after.is_empty());
            return ids;
        }
        after = page.next_after;
    }
}

/// Sends a message once the clock has moved past the conversation's last
/// activity, so that activity times are distinct without a fixed sleep.
async fn message_later(s: &parley_storage::StorageService, conv: &str, cmid: &str) -> pb::Event {
    let floor = parley_core::time::now_ms();
    while parley_core::time::now_ms() <= floor {
        tokio::task::yield_now().await;
    }
    posted(s, text(conv, "alice", cmid, "news")).await
}

async fn set(s: &parley_storage::StorageService, conv: &str, settings: pb::ConversationSettings) {
    s.update_settings(pb::SettingsRequest {
        caller: user("bob"),
        conversation_id: conv.into(),
        settings: Some(settings),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_list_is_pinned_first_then_newest_activity_and_pages_once_each() {
    let f = fixture();
    let s = &f.storage;
    let a = new_group(s, "alice", &["bob"]).await;
    let b = new_group(s, "alice", &["bob"]).await;
    let c = new_group(s, "alice", &["bob"]).await;
    let d = new_group(s, "alice", &["bob"]).await;
    for (i, conv) in [&b, &d, &c, &a].into_iter().enumerate() {
        message_later(s, conv, &format!("m{i}")).await;
    }
    let by_activity = |limit| all_pages(s, pb::SyncOrder::Activity, pb::SyncFilter::All, limit);
    assert_eq!(
        by_activity(10).await,
        [a.clone(), c.clone(), d.clone(), b.clone()]
    );
    // One at a time: the same order, each once.
    assert_eq!(
        by_activity(1).await,
        [a.clone(), c.clone(), d.clone(), b.clone()]
    );

    // Each entry carries the activity it is sorted by (its last message).
    let first = s
        .sync(list(pb::SyncOrder::Activity, pb::SyncFilter::All, "", 2))
        .await
        .unwrap();
    let times: Vec<i64> = first
        .conversations
        .iter()
        .map(|c| c.last_activity_ms)
        .collect();
    assert!(times[0] > times[1], "{times:?}");
    assert_eq!(
        first.conversations[0]
            .last_message
            .as_ref()
            .unwrap()
            .sent_at_ms,
        times[0]
    );

    // Pinned conversations come first, the latest pin on top.
    set(
        s,
        &b,
        pb::ConversationSettings {
            pinned_at_ms: 1_000,
            ..Default::default()
        },
    )
    .await;
    set(
        s,
        &d,
        pb::ConversationSettings {
            pinned_at_ms: 2_000,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_activity(3).await,
        [d.clone(), b.clone(), a.clone(), c.clone()]
    );

    // A new message moves its conversation up at once (the cached
    // activity is tied to the head it was read at).
    message_later(s, &c, "c-again").await;
    assert_eq!(
        by_activity(10).await,
        [d.clone(), b.clone(), c.clone(), a.clone()]
    );

    // Id order is unchanged by any of it.
    let mut ids = vec![a.clone(), b.clone(), c.clone(), d.clone()];
    ids.sort();
    assert_eq!(
        all_pages(s, pb::SyncOrder::Id, pb::SyncFilter::All, 3).await,
        ids
    );
}

#[tokio::test]
async fn the_inbox_and_the_archive_are_separate_lists() {
    let f = fixture();
    let s = &f.storage;
    let kept = new_group(s, "alice", &["bob"]).await;
    let archived = new_group(s, "alice", &["bob"]).await;
    let pinned_archived = new_group(s, "alice", &["bob"]).await;
    set(
        s,
        &archived,
        pb::ConversationSettings {
            archived: true,
            ..Default::default()
        },
    )
    .await;
    set(
        s,
        &pinned_archived,
        pb::ConversationSettings {
            archived: true,
            pinned_at_ms: 5,
            ..Default::default()
        },
    )
    .await;
    // A message does not unarchive.
    message_later(s, &archived, "x").await;
    let inbox = all_pages(s, pb::SyncOrder::Activity, pb::SyncFilter::Inbox, 10).await;
    assert_eq!(inbox, std::slice::from_ref(&kept));
    let archive = all_pages(s, pb::SyncOrder::Activity, pb::SyncFilter::Archived, 1).await;
    assert_eq!(archive, [pinned_archived.clone(), archived.clone()]);
    // Filters apply in id order too.
    let in_id_order = all_pages(s, pb::SyncOrder::Id, pb::SyncFilter::Archived, 10).await;
    assert_eq!(
        in_id_order.into_iter().collect::<HashSet<_>>(),
        HashSet::from([archived.clone(), pinned_archived.clone()])
    );
    // Everything: all three.
    assert_eq!(
        all_pages(s, pb::SyncOrder::Activity, pb::SyncFilter::All, 10)
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn a_list_of_many_conversations_pages_in_order_without_loss() {
    let f = fixture();
    let s = &f.storage;
    let mut convs = Vec::new();
    for _ in 0..60 {
        convs.push(new_group(s, "alice", &["bob"]).await);
    }
    // Activity in a shuffled order (every seventh first).
    let mut order: Vec<usize> = (0..60).map(|i| (i * 7) % 60).collect();
    for (n, i) in order.iter().enumerate() {
        message_later(s, &convs[*i], &format!("m{n}")).await;
    }
    order.reverse();
    let expected: Vec<String> = order.iter().map(|i| convs[*i].clone()).collect();
    assert_eq!(
        all_pages(s, pb::SyncOrder::Activity, pb::SyncFilter::All, 7).await,
        expected
    );
}

#[tokio::test]
async fn an_unknown_order_or_filter_is_refused() {
    let f = fixture();
    let s = &f.storage;
    new_group(s, "alice", &["bob"]).await;
    for (order, filter) in [(9, 0), (0, 9)] {
        let r = s
            .sync(pb::SyncPageRequest {
                caller: user("bob"),
                page: Some(pb::SyncRequest {
                    order,
                    filter,
                    ..Default::default()
                }),
            })
            .await;
        assert!(matches!(r, Err(ServiceError::InvalidArgument(_))), "{r:?}");
    }
}

#[tokio::test]
async fn clearing_a_conversation_hides_its_past_and_lists_it_again_on_news() {
    let f = fixture();
    let s = &f.storage;
    let g = new_group(s, "alice", &["bob"]).await;
    let other = new_group(s, "alice", &["bob"]).await;
    for i in 0..3 {
        posted(s, text(&g, "alice", &format!("old{i}"), "before")).await;
    }
    let head = state(s, &g, "bob").await.head_seq;
    // Bob clears it (a value past the head is taken as the head).
    set(
        s,
        &g,
        pb::ConversationSettings {
            cleared_seq: head + 1_000,
            ..Default::default()
        },
    )
    .await;
    let bob = state(s, &g, "bob").await;
    assert_eq!(bob.settings.as_ref().unwrap().cleared_seq, head);
    assert_eq!((bob.unread_count, bob.last_message.is_some()), (0, false));
    let past = s
        .history(history(&g, "bob", 1, 0, 100, false))
        .await
        .unwrap();
    assert!(past.events.is_empty(), "{:?}", past.events);
    // Out of the inbox and the archive, still in the whole list.
    let inbox = all_pages(s, pb::SyncOrder::Activity, pb::SyncFilter::Inbox, 10).await;
    assert_eq!(inbox, std::slice::from_ref(&other));
    assert!(
        all_pages(s, pb::SyncOrder::Id, pb::SyncFilter::Archived, 10)
            .await
            .is_empty()
    );
    assert_eq!(
        all_pages(s, pb::SyncOrder::Id, pb::SyncFilter::All, 10)
            .await
            .len(),
        2
    );
    // Settings sent without it (a device that read them before) keep it.
    set(
        s,
        &g,
        pb::ConversationSettings {
            muted_until_ms: -1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        state(s, &g, "bob").await.settings.unwrap().cleared_seq,
        head
    );
    // Alice's view is untouched.
    let alice = state(s, &g, "alice").await;
    assert!(alice.last_message.is_some());
    // Something new brings it back, with only what came after.
    let news = message_later(s, &g, "new").await;
    let inbox = all_pages(s, pb::SyncOrder::Activity, pb::SyncFilter::Inbox, 10).await;
    assert_eq!(inbox, [g.clone(), other.clone()]);
    let bob = state(s, &g, "bob").await;
    assert_eq!(bob.unread_count, 1);
    let after = s
        .history(history(&g, "bob", 1, 0, 100, false))
        .await
        .unwrap();
    assert_eq!(
        after.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [news.seq]
    );
}

/// One conversation's entry in the sync of `who`.
async fn state(s: &parley_storage::StorageService, conv: &str, who: &str) -> pb::ConversationState {
    synced(s, who)
        .await
        .into_iter()
        .find(|c| c.conversation.as_ref().unwrap().id == conv)
        .unwrap()
}
