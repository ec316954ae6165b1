//! Deleting a message removes its content from storage: the row keeps its
//! seq (history stays dense and shows the message as deleted), every edit
//! of it goes too, and after the store compacts the text is in none of its
//! files.

use parley_core::services::StorageApi;
use parley_proto::v1 as pb;
use parley_storage::StorageService;
use std::sync::Arc;

mod common;
use common::*;

fn edit(conv: &str, who: &str, cmid: &str, target: u64, text: &str) -> pb::AppendRequest {
    let body = pb::EditBody {
        target_seq: target,
        text: text.into(),
        ..Default::default()
    };
    send(conv, who, cmid, pb::send::Body::Edit(body))
}

fn delete(conv: &str, who: &str, cmid: &str, target: u64) -> pb::AppendRequest {
    let body = pb::DeleteBody { target_seq: target };
    send(conv, who, cmid, pb::send::Body::Delete(body))
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn a_deleted_message_and_its_edits_leave_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(timeline(dir.path()));
    let s = StorageService::new(
        store.clone(),
        Arc::new(parley_embedded::MemoryBus::new()),
        parley_storage::StorageConfig::default(),
    );
    let conv = new_group(&s, "ann", &["ben"]).await;
    let secret = format!("secret-{}", uuid::Uuid::new_v4());
    let revised = format!("revised-{}", uuid::Uuid::new_v4());
    let kept = format!("kept-{}", uuid::Uuid::new_v4());
    let m = posted(&s, text(&conv, "ann", "m", &secret)).await;
    let e = posted(&s, edit(&conv, "ann", "e", m.seq, &revised)).await;
    posted(&s, text(&conv, "ann", "k", &kept)).await;
    let d = posted(&s, delete(&conv, "ann", "d", m.seq)).await;

    // History: the rows are there, their content is not.
    let h = s
        .history(history(&conv, "ben", 1, 0, 100, false))
        .await
        .unwrap();
    let at = |seq: u64| h.events.iter().find(|x| x.seq == seq).unwrap().body.clone();
    assert_eq!(
        at(m.seq),
        Some(pb::event::Body::Redacted(pb::Redacted {
            delete_seq: d.seq,
            edit: false,
            thread_root_seq: 0
        }))
    );
    assert_eq!(
        at(e.seq),
        Some(pb::event::Body::Redacted(pb::Redacted {
            delete_seq: d.seq,
            edit: true,
            thread_root_seq: 0
        }))
    );
    assert!(matches!(at(d.seq), Some(pb::event::Body::Delete(_))));
    let seqs: Vec<u64> = h.events.iter().map(|x| x.seq).collect();
    assert_eq!(seqs, (1..=d.seq).collect::<Vec<_>>(), "dense");
    // A retried delete answers as before and redacts again (harmless).
    let again = s.append(delete(&conv, "ann", "d", m.seq)).await.unwrap();
    assert!(again.duplicate);

    // On disk: once compacted, neither text is in any table; the kept
    // message is (the check finds what is there). The engine's journal
    // still holds the writes until it rotates (every 64 MB written).
    store.compact_now().await.unwrap();
    let timeline = dir.path().join("timeline");
    assert!(!files_holding(&timeline, kept.as_bytes()).is_empty());
    let in_files = || -> Vec<String> {
        [&secret, &revised]
            .iter()
            .flat_map(|t| files_holding(&timeline, t.as_bytes()))
            .collect()
    };
    assert!(
        in_files().iter().all(|f| f.ends_with(".jnl")),
        "{:?}",
        in_files()
    );
    // Past a journal's worth of later writes, compacted again: no file.
    // Random text: the journal is compressed, so repeated filler would not
    // fill it.
    let noise = || -> String {
        (0..1_500)
            .map(|_| uuid::Uuid::new_v4().simple().to_string())
            .collect()
    };
    let other = format!("filler-{}", uuid::Uuid::new_v4());
    let events: Vec<pb::Event> = (1..=1_500u64)
        .map(|seq| pb::Event {
            conversation_id: other.clone(),
            seq,
            sender_id: "ann".into(),
            client_msg_id: String::new(),
            sent_at_ms: 1,
            body: Some(pb::event::Body::Message(pb::MessageBody {
                text: noise(),
                ..Default::default()
            })),
        })
        .collect();
    for chunk in events.chunks(100) {
        parley_ports::TimelineStore::append(&*store, chunk)
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        store.compact_now().await.unwrap();
        let left = in_files();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still in the files: {left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
