//! Threads: replies under a root message, their summaries in history, a
//! thread's own page of replies, and each member's read mark per thread.

use parley_core::ServiceError;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;
use parley_storage::StorageService;

mod common;
use common::*;

fn reply(conv: &str, sender: &str, cmid: &str, root: u64, t: &str) -> pb::AppendRequest {
    let message = pb::MessageBody {
        text: t.into(),
        thread_root_seq: root,
        ..Default::default()
    };
    send(conv, sender, cmid, pb::send::Body::Message(message))
}

fn thread_page(
    conv: &str,
    reader: &str,
    root: u64,
    limit: u32,
    backward: bool,
) -> pb::UserHistoryRequest {
    let mut h = history(conv, reader, 1, 0, limit, backward);
    h.request.as_mut().unwrap().thread_root_seq = root;
    h
}

async fn summaries(s: &StorageService, conv: &str, reader: &str) -> Vec<pb::ThreadSummary> {
    s.history(history(conv, reader, 1, 0, 100, false))
        .await
        .unwrap()
        .threads
}

fn mark(conv: &str, who: &str, root: u64, seq: u64) -> pb::MarkReadRequest {
    pb::MarkReadRequest {
        conversation_id: conv.into(),
        caller: user(who),
        seq,
        thread_root_seq: root,
    }
}

#[tokio::test]
async fn replies_gather_under_their_root_with_counts_and_unread_per_member() {
    let f = fixture();
    let s = &*f.storage;
    let conv = new_group(s, "ann", &["ben", "cat"]).await;
    let root = posted(s, text(&conv, "ann", "r", "release on friday?"))
        .await
        .seq;
    let other = posted(s, text(&conv, "cat", "o", "lunch?")).await.seq;
    let r1 = posted(s, reply(&conv, "ben", "b1", root, "yes")).await;
    let r2 = posted(s, reply(&conv, "cat", "c1", root, "if QA signs off")).await;
    let r3 = posted(s, reply(&conv, "ben", "b2", root, "they did")).await;
    // Replies are timeline events like any other: dense seqs.
    assert_eq!([r1.seq, r2.seq, r3.seq], [other + 1, other + 2, other + 3]);
    let t = summaries(s, &conv, "ann").await;
    assert_eq!(t.len(), 1, "only the root has a thread: {t:?}");
    let t = &t[0];
    assert_eq!(
        (t.root_seq, t.reply_count, t.last_reply_seq),
        (root, 3, r3.seq)
    );
    assert_eq!(t.last_reply_at_ms, r3.sent_at_ms);
    assert_eq!(t.participant_ids, ["ben", "cat"]);
    assert_eq!((t.read_seq, t.unread_count), (0, 3));
    // Ben's own replies are not unread for him.
    assert_eq!(summaries(s, &conv, "ben").await[0].unread_count, 1);
    // Ann reads the thread up to r2: one unread left, for her only.
    let m = s.mark_read(mark(&conv, "ann", root, r2.seq)).await.unwrap();
    assert_eq!(
        (m.read_seq, m.raised),
        (r2.seq, false),
        "no receipt for a thread mark"
    );
    s.mark_read(mark(&conv, "ann", root, 1)).await.unwrap();
    let t = &summaries(s, &conv, "ann").await[0];
    assert_eq!(
        (t.read_seq, t.unread_count),
        (r2.seq, 1),
        "a mark never goes down"
    );
    assert_eq!(summaries(s, &conv, "cat").await[0].unread_count, 2);
    // The conversation's own watermark did not move.
    let state = s
        .sync(pb::SyncPageRequest {
            caller: user("ann"),
            page: None,
        })
        .await
        .unwrap();
    assert_eq!(state.conversations[0].read_seq, 0);
}

#[tokio::test]
async fn a_thread_pages_its_own_replies() {
    let f = fixture();
    let s = &*f.storage;
    let conv = new_group(s, "ann", &["ben"]).await;
    let root = posted(s, text(&conv, "ann", "r", "root")).await.seq;
    let mut seqs = Vec::new();
    for i in 0..5 {
        posted(s, text(&conv, "ben", &format!("x{i}"), "elsewhere")).await;
        seqs.push(
            posted(
                s,
                reply(&conv, "ben", &format!("t{i}"), root, &format!("reply {i}")),
            )
            .await
            .seq,
        );
    }
    let page = s
        .history(thread_page(&conv, "ann", root, 2, false))
        .await
        .unwrap();
    let got: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(got, seqs[..2]);
    assert!(page.has_more);
    assert_eq!(page.covered_to, seqs[1]);
    let newest = s
        .history(thread_page(&conv, "ann", root, 2, true))
        .await
        .unwrap();
    let got: Vec<u64> = newest.events.iter().map(|e| e.seq).collect();
    assert_eq!(got, seqs[3..], "backward: the newest, oldest first");
    let all = s
        .history(thread_page(&conv, "ann", root, 0, false))
        .await
        .unwrap();
    assert_eq!(all.events.len(), 5);
    assert!(!all.has_more);
    assert!(all.skipped.is_empty());
}

#[tokio::test]
async fn a_thread_hangs_from_a_message_that_is_not_a_reply() {
    let f = fixture();
    let s = &*f.storage;
    let conv = new_group(s, "ann", &["ben"]).await;
    let root = posted(s, text(&conv, "ann", "r", "root")).await.seq;
    let r = posted(s, reply(&conv, "ben", "b1", root, "reply"))
        .await
        .seq;
    let invalid = |e: Result<pb::AppendReply, ServiceError>| {
        assert!(matches!(e, Err(ServiceError::InvalidArgument(_))), "{e:?}")
    };
    invalid(
        s.append(reply(&conv, "ann", "a1", r, "a reply to a reply"))
            .await,
    );
    invalid(
        s.append(reply(&conv, "ann", "a2", 1, "the created event"))
            .await,
    );
    invalid(
        s.append(reply(&conv, "ann", "a3", 99, "not yet written"))
            .await,
    );
    assert!(matches!(
        s.history(thread_page(&conv, "ann", r, 10, false)).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    // Non-members see nothing of it.
    assert!(matches!(
        s.history(thread_page(&conv, "eve", root, 10, false)).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        s.mark_read(mark(&conv, "eve", root, r)).await,
        Err(ServiceError::NotFound(_))
    ));
}
