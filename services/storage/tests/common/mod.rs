//! Builders shared by the storage tests.
#![allow(dead_code)]

use parley_core::Caller;
use parley_core::services::StorageApi;
use parley_embedded::{FjallTimelineStore, MemoryBus};
use parley_proto::v1 as pb;
use parley_storage::{StorageConfig, StorageService};
use std::path::Path;
use std::sync::Arc;

/// The caller of a user's request.
pub fn user(id: &str) -> Option<pb::Caller> {
    Caller::user(id).unwrap().to_proto()
}

/// A storage service on the timeline under `dir`, on its own memory bus.
pub fn service(dir: &Path, cfg: StorageConfig) -> StorageService {
    StorageService::new(Arc::new(timeline(dir)), Arc::new(MemoryBus::new()), cfg)
}

/// The timeline store under `dir` (opened again after a restart).
pub fn timeline(dir: &Path) -> FjallTimelineStore {
    FjallTimelineStore::open(&dir.join("timeline"), 8 << 20).unwrap()
}

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub storage: Arc<StorageService>,
    pub bus: MemoryBus,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let cfg = StorageConfig {
        seq_lease_size: 3,
        ..Default::default()
    };
    let storage = Arc::new(StorageService::new(
        Arc::new(timeline(dir.path())),
        Arc::new(bus.clone()),
        cfg,
    ));
    Fixture {
        _dir: dir,
        storage,
        bus,
    }
}

pub fn group(creator: &str, members: &[&str]) -> pb::CreateConversationRequest {
    pb::CreateConversationRequest {
        caller: user(creator),
        kind: pb::ConversationKind::Group as i32,
        title: "team".into(),
        member_ids: members.iter().map(|m| m.to_string()).collect(),
        ..Default::default()
    }
}

/// A send of `body` by `sender` with the key `cmid`.
pub fn send(conv: &str, sender: &str, cmid: &str, body: pb::send::Body) -> pb::AppendRequest {
    pb::AppendRequest {
        caller: user(sender),
        send: Some(pb::Send {
            conversation_id: conv.into(),
            client_msg_id: cmid.into(),
            body: Some(body),
        }),
    }
}

pub fn text(conv: &str, sender: &str, cmid: &str, t: &str) -> pb::AppendRequest {
    let message = pb::MessageBody {
        text: t.into(),
        ..Default::default()
    };
    send(conv, sender, cmid, pb::send::Body::Message(message))
}

/// A new group of `creator` and `members`; its id.
pub async fn new_group(s: &StorageService, creator: &str, members: &[&str]) -> String {
    s.create_conversation(group(creator, members))
        .await
        .unwrap()
        .id
}

/// The event a send stored (the send must succeed).
pub async fn posted(s: &StorageService, req: pb::AppendRequest) -> pb::Event {
    s.append(req).await.unwrap().event.unwrap()
}

pub fn history(
    conv: &str,
    reader: &str,
    from: u64,
    to: u64,
    limit: u32,
    backward: bool,
) -> pb::UserHistoryRequest {
    pb::UserHistoryRequest {
        caller: user(reader),
        request: Some(pb::HistoryRequest {
            conversation_id: conv.into(),
            from_seq: from,
            to_seq: to,
            limit,
            backward,
            thread_root_seq: 0,
        }),
    }
}

/// The first sync page of `who` (every entry, in id order).
pub async fn synced(s: &StorageService, who: &str) -> Vec<pb::ConversationState> {
    s.sync(pb::SyncPageRequest {
        caller: user(who),
        page: None,
    })
    .await
    .unwrap()
    .conversations
}
