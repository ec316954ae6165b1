//! One append on the embedded store, through the storage service (dedup
//! check, seq lease, durable group commit, ordered publication):
//! `cargo bench -p parley-storage --bench append`.

use parley_core::services::StorageApi;
use parley_embedded::{FjallTimelineStore, MemoryBus};
use parley_proto::v1 as pb;
use parley_storage::{StorageConfig, StorageService};
use std::sync::Arc;
use std::time::Instant;

/// The caller of a user's request.
fn user(id: &str) -> Option<pb::Caller> {
    parley_core::Caller::user(id).unwrap().to_proto()
}

fn text(conv: &str, cmid: String) -> pb::AppendRequest {
    pb::AppendRequest {
        caller: user("alice"),
        send: Some(pb::Send {
            conversation_id: conv.into(),
            client_msg_id: cmid,
            body: Some(pb::send::Body::Message(pb::MessageBody {
                text: "x".repeat(100),
                reply_to_seq: 0,
                ..Default::default()
            })),
        }),
    }
}

async fn group(s: &StorageService) -> String {
    let req = pb::CreateConversationRequest {
        caller: user("alice"),
        kind: 2,
        title: "bench".into(),
        member_ids: vec!["bob".into()],
        ..Default::default()
    };
    s.create_conversation(req).await.unwrap().id
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallTimelineStore::open(&dir.path().join("timeline"), 64 << 20).unwrap();
    let s = Arc::new(StorageService::new(
        Arc::new(store),
        Arc::new(MemoryBus::new()),
        StorageConfig::default(),
    ));

    let conv = group(&s).await;
    let n = 2_000;
    let start = Instant::now();
    for i in 0..n {
        s.append(text(&conv, format!("seq-{i}"))).await.unwrap();
    }
    let el = start.elapsed();
    println!(
        "sequential appends (one at a time, durable): {:>8.0} appends/s, {:>6.0} us each",
        n as f64 / el.as_secs_f64(),
        el.as_micros() as f64 / n as f64
    );

    let tasks = 64;
    let per = 300;
    let mut convs = Vec::new();
    for _ in 0..tasks {
        convs.push(group(&s).await);
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for (t, conv) in convs.into_iter().enumerate() {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per {
                s.append(text(&conv, format!("c{t}-{i}"))).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let el = start.elapsed();
    let total = tasks * per;
    println!(
        "concurrent appends ({tasks} senders, group commit): {:>8.0} appends/s",
        total as f64 / el.as_secs_f64()
    );
}
