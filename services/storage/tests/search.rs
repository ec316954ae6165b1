//! Search as storage serves it: the index follows commits (edits replace,
//! deletes remove), and a query sees only what the caller may read now.

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_embedded::MemoryBus;
use parley_proto::v1 as pb;
use parley_search::SearchIndex;
use parley_storage::{StorageConfig, StorageService};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::*;

fn searching(dir: &std::path::Path, index_dir: &str) -> StorageService {
    let s = StorageService::new(
        Arc::new(timeline(dir)),
        Arc::new(MemoryBus::new()),
        StorageConfig::default(),
    );
    s.with_search(Arc::new(SearchIndex::open(&dir.join(index_dir)).unwrap()))
}

fn query(who: &str, text: &str) -> pb::UserSearchRequest {
    pb::UserSearchRequest {
        caller: user(who),
        request: Some(pb::SearchRequest {
            query: text.into(),
            ..Default::default()
        }),
    }
}

async fn seqs(s: &StorageService, req: pb::UserSearchRequest) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = s
        .search(req)
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|h| (h.conversation_id, h.seq))
        .collect();
    v.sort();
    v
}

/// Waits until the search gives `want` (the index follows within seconds).
async fn until(s: &StorageService, req: pb::UserSearchRequest, want: Vec<(String, u64)>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = seqs(s, req.clone()).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "search gave {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_found_by_members_only_and_follow_edits_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let s = searching(dir.path(), "search");
    let team = new_group(&s, "ann", &["ben"]).await;
    let other = new_group(&s, "cal", &[]).await;
    let m1 = posted(&s, text(&team, "ann", "a", "the invoice for march"))
        .await
        .seq;
    let m2 = posted(&s, text(&team, "ben", "b", "invoice paid"))
        .await
        .seq;
    posted(&s, text(&other, "cal", "c", "cal's own invoice")).await;
    until(
        &s,
        query("ben", "invoice"),
        vec![(team.clone(), m1), (team.clone(), m2)],
    )
    .await;
    // Filters: one sender, one conversation.
    let mut by_ann = query("ben", "invoice");
    by_ann.request.as_mut().unwrap().sender_id = "ann".into();
    assert_eq!(seqs(&s, by_ann).await, [(team.clone(), m1)]);
    let mut elsewhere = query("ben", "invoice");
    elsewhere.request.as_mut().unwrap().conversation_id = other.clone();
    assert!(matches!(
        s.search(elsewhere).await,
        Err(ServiceError::NotFound(_))
    ));
    // A hit says where it matched.
    let hit = &s.search(query("ann", "march")).await.unwrap().hits[0];
    let h = &hit.highlights[0];
    assert_eq!(&hit.fragment[h.start as usize..h.end as usize], "march");
    // An edit replaces the text; a delete removes the message.
    let edit = pb::EditBody {
        target_seq: m1,
        text: "the receipt for march".into(),
        ..Default::default()
    };
    posted(&s, send(&team, "ann", "e", pb::send::Body::Edit(edit))).await;
    until(&s, query("ben", "receipt"), vec![(team.clone(), m1)]).await;
    until(&s, query("ben", "invoice"), vec![(team.clone(), m2)]).await;
    let delete = pb::DeleteBody { target_seq: m2 };
    posted(&s, send(&team, "ben", "d", pb::send::Body::Delete(delete))).await;
    until(&s, query("ben", "invoice"), vec![]).await;
    // Leaving the group: nothing of it is found any more, at once.
    let leave = pb::RemoveMemberRequest {
        conversation_id: team.clone(),
        caller: user("ben"),
        user_id: "ben".into(),
    };
    s.remove_member(leave).await.unwrap();
    assert!(seqs(&s, query("ben", "receipt")).await.is_empty());
    // Bad queries are clear errors.
    assert!(matches!(
        s.search(query("ann", "  ")).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    let mut too_many = query("ann", "march");
    too_many.request.as_mut().unwrap().limit = 51;
    assert!(matches!(
        s.search(too_many).await,
        Err(ServiceError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_added_later_finds_only_what_they_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = searching(dir.path(), "search");
    let team = new_group(&s, "ann", &[]).await;
    let hide = pb::ConversationUpdate {
        history_visibility: Some(pb::HistoryVisibility::SinceJoined as i32),
        ..Default::default()
    };
    posted(&s, send(&team, "ann", "h", pb::send::Body::Update(hide))).await;
    let before = posted(&s, text(&team, "ann", "1", "roadmap draft"))
        .await
        .seq;
    s.add_members(pb::AddMembersRequest {
        conversation_id: team.clone(),
        caller: user("ann"),
        user_ids: vec!["dee".into()],
        role: 0,
        invite_ids: vec![],
    })
    .await
    .unwrap();
    let after = posted(&s, text(&team, "ann", "2", "roadmap final"))
        .await
        .seq;
    until(
        &s,
        query("ann", "roadmap"),
        vec![(team.clone(), before), (team.clone(), after)],
    )
    .await;
    assert_eq!(
        seqs(&s, query("dee", "roadmap")).await,
        [(team.clone(), after)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_index_fills_a_conversation_at_its_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let team = {
        let s = searching(dir.path(), "first-index");
        let team = new_group(&s, "ann", &[]).await;
        posted(&s, text(&team, "ann", "1", "an early note")).await;
        until(&s, query("ann", "early"), vec![(team.clone(), 2)]).await;
        s.stop_indexing().await;
        team
    };
    // The index is lost (another directory): the old marks do not count,
    // and the conversation is indexed from its start at its next event.
    let s = searching(dir.path(), "second-index");
    assert!(seqs(&s, query("ann", "early")).await.is_empty());
    let later = posted(&s, text(&team, "ann", "2", "a later note"))
        .await
        .seq;
    until(
        &s,
        query("ann", "note"),
        vec![(team.clone(), 2), (team.clone(), later)],
    )
    .await;
}
