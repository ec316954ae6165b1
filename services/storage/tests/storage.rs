//! Storage service behaviour on the embedded backends (the fjall timeline
//! store, as in production), in process and over a real gRPC connection.

use parley_core::services::{StorageApi, StorageClient, StorageGrpc};
use parley_core::{Caller, ServiceError};
use parley_embedded::{FjallTimelineStore, MemoryBus};
use parley_ports::EventBus;
use parley_proto::v1 as pb;
use parley_storage::{StorageConfig, StorageService};
use std::sync::Arc;

mod common;
use common::*;

#[tokio::test]
async fn seqs_are_dense_and_retries_return_the_original() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    assert_eq!(conv.members.len(), 2);
    // seq 1 is the ConversationCreated event.
    for i in 0..10 {
        let r = s
            .append(text(&conv.id, "alice", &format!("m{i}"), "hi"))
            .await
            .unwrap();
        assert_eq!(r.event.unwrap().seq, i + 2);
        assert!(!r.duplicate);
    }
    let again = s.append(text(&conv.id, "alice", "m4", "hi")).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.event.unwrap().seq, 6);
    let h = s
        .history(history(&conv.id, "bob", 1, 0, 0, false))
        .await
        .unwrap();
    let seqs: Vec<u64> = h.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    assert!(h.skipped.is_empty());
    assert_eq!(h.head_seq, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_retries_get_one_seq() {
    let f = fixture();
    let s = f.storage.clone();
    let conv = s.create_conversation(group("alice", &[])).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        let id = conv.id.clone();
        tasks.push(tokio::spawn(async move {
            s.append(text(&id, "alice", "same", "x"))
                .await
                .unwrap()
                .event
                .unwrap()
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.dedup();
    assert_eq!(seqs, vec![2]);
    let h = s
        .history(history(&conv.id, "alice", 1, 0, 0, false))
        .await
        .unwrap();
    assert_eq!(h.events.len(), 2);
}

#[tokio::test]
async fn non_members_are_refused_everywhere() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    let nf =
        |r: Result<(), ServiceError>| assert!(matches!(r, Err(ServiceError::NotFound(_))), "{r:?}");
    nf(s.append(text(&conv.id, "mallory", "m", "x"))
        .await
        .map(|_| ()));
    nf(s.history(history(&conv.id, "mallory", 1, 0, 0, false))
        .await
        .map(|_| ()));
    nf(s.get_conversation(pb::ConversationRequest {
        conversation_id: conv.id.clone(),
        caller: user("mallory"),
    })
    .await
    .map(|_| ()));
    nf(s.mark_read(pb::MarkReadRequest {
        conversation_id: conv.id.clone(),
        caller: user("mallory"),
        seq: 1,
        thread_root_seq: 0,
    })
    .await
    .map(|_| ()));
    nf(s.list_members(pb::MembersRequest {
        conversation_id: conv.id.clone(),
        caller: user("mallory"),
        ..Default::default()
    })
    .await
    .map(|_| ()));
    nf(s.add_members(pb::AddMembersRequest {
        conversation_id: conv.id.clone(),
        caller: user("mallory"),
        user_ids: vec!["x".into()],
        role: 0,
        invite_ids: vec![],
    })
    .await
    .map(|_| ()));
    nf(s.append(text("no-such-conv", "alice", "m", "x"))
        .await
        .map(|_| ()));
    // Ids that must never reach a subject or a key.
    for bad in ["a.b", "a*", ">", "a b"] {
        let r = s.append(text(bad, "alice", "m", "x")).await;
        assert!(
            matches!(r, Err(ServiceError::InvalidArgument(_))),
            "{bad}: {r:?}"
        );
        let r = s.append(text(&conv.id, "alice", bad, "x")).await;
        assert!(
            matches!(r, Err(ServiceError::InvalidArgument(_))),
            "{bad}: {r:?}"
        );
    }
}

#[tokio::test]
async fn roles_edit_delete_and_removal() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("owner", &["bob", "carol"]))
        .await
        .unwrap();
    let id = conv.id.clone();
    let m = s
        .append(text(&id, "bob", "b1", "hello"))
        .await
        .unwrap()
        .event
        .unwrap();
    // Carol may neither edit nor delete Bob's message; the owner may delete it.
    let edit = |who: &str, cmid: &str| pb::AppendRequest {
        caller: user(who),
        send: Some(pb::Send {
            conversation_id: id.clone(),
            client_msg_id: cmid.into(),
            body: Some(pb::send::Body::Edit(pb::EditBody {
                target_seq: m.seq,
                text: "edited".into(),
                ..Default::default()
            })),
        }),
    };
    assert!(matches!(
        s.append(edit("carol", "c1")).await,
        Err(ServiceError::PermissionDenied(_))
    ));
    let e = s.append(edit("bob", "b2")).await.unwrap().event.unwrap();
    assert!(matches!(e.body, Some(pb::event::Body::Edit(ref b)) if b.target_seq == m.seq));
    let del = pb::AppendRequest {
        caller: user("owner"),
        send: Some(pb::Send {
            conversation_id: id.clone(),
            client_msg_id: "o1".into(),
            body: Some(pb::send::Body::Delete(pb::DeleteBody { target_seq: m.seq })),
        }),
    };
    s.append(del).await.unwrap();
    // Members cannot add or remove; the owner can.
    let add = |who: &str| pb::AddMembersRequest {
        conversation_id: id.clone(),
        caller: user(who),
        user_ids: vec!["dave".into()],
        role: 0,
        invite_ids: vec![],
    };
    assert!(matches!(
        s.add_members(add("carol")).await,
        Err(ServiceError::PermissionDenied(_))
    ));
    s.add_members(add("owner")).await.unwrap();
    let rm = |who: &str, target: &str| pb::RemoveMemberRequest {
        conversation_id: id.clone(),
        caller: user(who),
        user_id: target.into(),
    };
    assert!(matches!(
        s.remove_member(rm("carol", "bob")).await,
        Err(ServiceError::PermissionDenied(_))
    ));
    s.remove_member(rm("owner", "bob")).await.unwrap();
    assert!(
        s.append(text(&id, "bob", "b9", "still here?"))
            .await
            .is_err()
    );
    s.remove_member(rm("carol", "carol")).await.unwrap();
    let members = s
        .get_conversation(pb::ConversationRequest {
            conversation_id: id.clone(),
            caller: user("owner"),
        })
        .await
        .unwrap()
        .members;
    let mut ids: Vec<_> = members.iter().map(|m| m.user_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, vec!["dave", "owner"]);
}

#[tokio::test]
async fn bad_input_is_refused_clearly() {
    let f = fixture();
    let s = &f.storage;
    let conv = s.create_conversation(group("alice", &[])).await.unwrap();
    let huge = "x".repeat(StorageConfig::default().max_text_bytes + 1);
    assert!(matches!(
        s.append(text(&conv.id, "alice", "m1", &huge)).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.append(text(&conv.id, "alice", "m2", "")).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    let no_body = pb::AppendRequest {
        caller: user("alice"),
        send: Some(pb::Send {
            conversation_id: conv.id.clone(),
            client_msg_id: "m3".into(),
            body: None,
        }),
    };
    assert!(matches!(
        s.append(no_body).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    let reply_to_nothing = pb::AppendRequest {
        caller: user("alice"),
        send: Some(pb::Send {
            conversation_id: conv.id.clone(),
            client_msg_id: "m4".into(),
            body: Some(pb::send::Body::Message(pb::MessageBody {
                text: "re".into(),
                reply_to_seq: 999,
                ..Default::default()
            })),
        }),
    };
    assert!(matches!(
        s.append(reply_to_nothing).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    let dm_self = pb::CreateConversationRequest {
        caller: user("alice"),
        kind: pb::ConversationKind::Direct as i32,
        title: String::new(),
        member_ids: vec!["alice".into()],
        ..Default::default()
    };
    assert!(matches!(
        s.create_conversation(dm_self).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    // Nothing of the refused sends was stored.
    let h = s
        .history(history(&conv.id, "alice", 1, 0, 0, false))
        .await
        .unwrap();
    assert_eq!(h.head_seq, 1);
}

#[tokio::test]
async fn direct_conversations_are_idempotent() {
    let f = fixture();
    let s = &f.storage;
    let dm = |a: &str, b: &str| pb::CreateConversationRequest {
        caller: user(a),
        kind: pb::ConversationKind::Direct as i32,
        title: String::new(),
        member_ids: vec![b.into()],
        ..Default::default()
    };
    let c1 = s.create_conversation(dm("alice", "bob")).await.unwrap();
    let c2 = s.create_conversation(dm("bob", "alice")).await.unwrap();
    assert_eq!(c1.id, c2.id);
    let sync = s
        .sync(pb::SyncPageRequest {
            caller: user("bob"),
            page: None,
        })
        .await
        .unwrap();
    assert_eq!(sync.conversations.len(), 1);
    assert_eq!(
        sync.conversations[0].head_seq, 1,
        "one Created event, not two"
    );
    assert_eq!(
        sync.conversations[0]
            .conversation
            .as_ref()
            .unwrap()
            .members
            .len(),
        2
    );
}

#[tokio::test]
async fn history_pages_and_reports_holes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        seq_lease_size: 10,
        ..Default::default()
    };
    let conv_id;
    {
        let s = service(dir.path(), cfg.clone());
        conv_id = s.create_conversation(group("alice", &[])).await.unwrap().id;
        for i in 0..4 {
            s.append(text(&conv_id, "alice", &format!("a{i}"), "x"))
                .await
                .unwrap();
        }
    }
    // A restart loses the rest of the lease (seqs 6..=10 become holes).
    let s = service(dir.path(), cfg);
    let r = s.append(text(&conv_id, "alice", "b0", "x")).await.unwrap();
    assert_eq!(r.event.unwrap().seq, 11);
    assert!(
        s.append(text(&conv_id, "alice", "a2", "x"))
            .await
            .unwrap()
            .duplicate,
        "dedup survives a restart"
    );
    let h = s
        .history(history(&conv_id, "alice", 1, 0, 0, false))
        .await
        .unwrap();
    assert_eq!(
        h.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 11]
    );
    assert_eq!(h.skipped, vec![6, 7, 8, 9, 10]);
    assert_eq!((h.covered_from, h.covered_to, h.has_more), (1, 11, false));
    // Paging forward and backward.
    let p = s
        .history(history(&conv_id, "alice", 1, 0, 2, false))
        .await
        .unwrap();
    assert_eq!(
        (p.events.len(), p.covered_from, p.covered_to, p.has_more),
        (2, 1, 2, true)
    );
    let p = s
        .history(history(&conv_id, "alice", 1, 0, 2, true))
        .await
        .unwrap();
    assert_eq!(
        p.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5, 11]
    );
    assert_eq!((p.covered_from, p.covered_to, p.has_more), (5, 11, true));
    assert_eq!(p.skipped, vec![6, 7, 8, 9, 10]);
    // Beyond the head: nothing, and nothing claimed.
    let p = s
        .history(history(&conv_id, "alice", 12, 20, 0, false))
        .await
        .unwrap();
    assert!(p.events.is_empty() && p.skipped.is_empty());
}

#[tokio::test]
async fn stored_events_are_published_in_order() {
    let f = fixture();
    let mut consumer = f.bus.consume_stored("test").await.unwrap();
    let s = f.storage.clone();
    let conv = s.create_conversation(group("alice", &[])).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        let id = conv.id.clone();
        tasks.push(tokio::spawn(async move {
            s.append(text(&id, "alice", &format!("m{i}"), "x"))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for expected in 1..=21 {
        let d = consumer.next().await.unwrap();
        assert_eq!(d.event.seq, expected);
        d.ack();
    }
}

/// Each stored event names the version of the member list it was stored
/// under: the same while the list stays, another once it changes, and the
/// one `member_ids` answers with (fanout's cache depends on all three).
#[tokio::test]
async fn stored_events_name_their_member_list_version() {
    let f = fixture();
    let mut consumer = f.bus.consume_stored("test").await.unwrap();
    let s = &f.storage;
    let conv = s.create_conversation(group("alice", &[])).await.unwrap();
    s.append(text(&conv.id, "alice", "m1", "x")).await.unwrap();
    let ids = |caller| pb::MembersRequest {
        conversation_id: conv.id.clone(),
        caller,
        ..Default::default()
    };
    let listed = s.member_ids(ids(user("alice"))).await.unwrap();
    assert_eq!(listed.user_ids, vec!["alice".to_string()]);
    let mut versions = Vec::new();
    for _ in 0..2 {
        let d = consumer.next().await.unwrap();
        versions.push(d.members.expect("a version"));
        d.ack();
    }
    assert_eq!(versions[0], versions[1], "no change between them");
    assert_eq!(Some(versions[1]), listed.version, "what member_ids answers");
    s.add_members(pb::AddMembersRequest {
        conversation_id: conv.id.clone(),
        caller: user("alice"),
        user_ids: vec!["bob".into()],
        role: 0,
        invite_ids: vec![],
    })
    .await
    .unwrap();
    s.append(text(&conv.id, "alice", "m2", "x")).await.unwrap();
    for _ in 0..2 {
        // The membership event itself and the message after it.
        let d = consumer.next().await.unwrap();
        assert_ne!(d.members, Some(versions[0]), "seq {}", d.event.seq);
        d.ack();
    }
    let listed = s.member_ids(ids(user("bob"))).await.unwrap();
    assert_eq!(listed.user_ids.len(), 2);
    assert!(
        s.member_ids(ids(user("mallory"))).await.is_err(),
        "members only"
    );
}

#[tokio::test]
async fn read_watermarks_only_rise_and_stop_at_the_head() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    s.append(text(&conv.id, "alice", "m1", "x")).await.unwrap();
    let mr = |seq| pb::MarkReadRequest {
        conversation_id: conv.id.clone(),
        caller: user("bob"),
        seq,
        thread_root_seq: 0,
    };
    let r = s.mark_read(mr(1)).await.unwrap();
    assert_eq!((r.read_seq, r.raised), (1, true));
    let r = s.mark_read(mr(99)).await.unwrap();
    assert_eq!((r.read_seq, r.raised), (2, true));
    // Lower or equal: nothing rises, so no receipt goes out.
    let r = s.mark_read(mr(1)).await.unwrap();
    assert_eq!((r.read_seq, r.raised), (2, false));
    assert!(!s.mark_read(mr(2)).await.unwrap().raised);
    let sync = s
        .sync(pb::SyncPageRequest {
            caller: user("bob"),
            page: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (
            sync.conversations[0].head_seq,
            sync.conversations[0].read_seq
        ),
        (2, 2)
    );
}

#[tokio::test]
async fn served_over_grpc() {
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = StorageGrpc(f.storage.clone()).into_service();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(tonic::service::interceptor::InterceptedService::new(
                svc,
                parley_core::peer::assume_peer_in_tests(parley_core::peer::Peer::Gateway),
            ))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = StorageClient::remote(channel);
    let conv = client
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    let r = client
        .append(text(&conv.id, "alice", "m1", "over the wire"))
        .await
        .unwrap();
    assert_eq!(r.event.unwrap().seq, 2);
    // Errors keep their kind across the wire.
    let err = client
        .append(text(&conv.id, "mallory", "m1", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
    let err = client
        .append(text("a.b", "alice", "m1", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::InvalidArgument(_)), "{err:?}");
    server.abort();
}

/// A bus whose stored-event stream can be taken down.
struct FlakyBus {
    inner: MemoryBus,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl EventBus for FlakyBus {
    async fn deliver(
        &self,
        users: &[String],
        push: parley_ports::Push,
    ) -> parley_ports::BusResult<()> {
        self.inner.deliver(users, push).await
    }
    async fn deliver_routed(
        &self,
        routes: &[parley_ports::GatewayRoute],
        push: parley_ports::Push,
    ) -> parley_ports::BusResult<()> {
        self.inner.deliver_routed(routes, push).await
    }
    async fn subscribe_user(
        &self,
        user: &str,
        sink: Arc<dyn parley_ports::DeliverySink>,
    ) -> parley_ports::BusResult<parley_ports::Subscription> {
        self.inner.subscribe_user(user, sink).await
    }
    async fn broadcast(&self, items: &[parley_ports::Broadcast]) -> parley_ports::BusResult<()> {
        self.inner.broadcast(items).await
    }
    async fn subscribe_gateway(
        &self,
        gateway: &str,
        sink: Arc<dyn parley_ports::DeliverySink>,
    ) -> parley_ports::BusResult<parley_ports::Subscription> {
        self.inner.subscribe_gateway(gateway, sink).await
    }
    async fn publish_stored(
        &self,
        events: &[parley_ports::StoredEvent],
    ) -> parley_ports::BusResult<()> {
        if self.down.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(parley_ports::BusError::Unavailable("bus down".into()));
        }
        self.inner.publish_stored(events).await
    }
    async fn consume_stored(
        &self,
        group: &str,
    ) -> parley_ports::BusResult<Box<dyn parley_ports::StoredConsumer>> {
        self.inner.consume_stored(group).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

#[tokio::test]
async fn sends_are_acked_while_the_bus_is_down_and_published_in_order_after() {
    let dir = tempfile::tempdir().unwrap();
    let bus = Arc::new(FlakyBus {
        inner: MemoryBus::new(),
        down: true.into(),
    });
    let mut consumer = bus.consume_stored("test").await.unwrap();
    let s = StorageService::new(
        Arc::new(timeline(dir.path())),
        bus.clone(),
        StorageConfig::default(),
    );
    let conv = s.create_conversation(group("alice", &[])).await.unwrap();
    for i in 0..5 {
        let r = s
            .append(text(&conv.id, "alice", &format!("m{i}"), "x"))
            .await
            .unwrap();
        assert_eq!(r.event.unwrap().seq, i + 2, "acked during the outage");
    }
    assert!(
        !s.flush_publications(std::time::Duration::from_millis(100))
            .await
    );
    bus.down.store(false, std::sync::atomic::Ordering::Relaxed);
    for expected in 1..=6 {
        let d = tokio::time::timeout(std::time::Duration::from_secs(10), consumer.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.event.seq, expected);
        d.ack();
    }
    assert!(
        s.flush_publications(std::time::Duration::from_secs(5))
            .await
    );
}

/// A store whose appends take a while, to cancel callers mid-write.
struct SlowStore(FjallTimelineStore);

#[async_trait::async_trait]
impl parley_ports::TimelineStore for SlowStore {
    async fn create_conversation(&self, c: &pb::Conversation) -> parley_ports::StoreResult<()> {
        self.0.create_conversation(c).await
    }
    async fn conversation(&self, id: &str) -> parley_ports::StoreResult<Option<pb::Conversation>> {
        self.0.conversation(id).await
    }
    async fn put_members(&self, c: &str, m: &[pb::Member]) -> parley_ports::StoreResult<()> {
        self.0.put_members(c, m).await
    }
    async fn remove_member(&self, c: &str, u: &str) -> parley_ports::StoreResult<()> {
        self.0.remove_member(c, u).await
    }
    async fn member(&self, c: &str, u: &str) -> parley_ports::StoreResult<Option<pb::Member>> {
        self.0.member(c, u).await
    }
    async fn members(&self, c: &str) -> parley_ports::StoreResult<Vec<pb::Member>> {
        self.0.members(c).await
    }
    async fn user_conversations(&self, u: &str) -> parley_ports::StoreResult<Vec<String>> {
        self.0.user_conversations(u).await
    }
    async fn lease_seqs(&self, c: &str, n: u64) -> parley_ports::StoreResult<std::ops::Range<u64>> {
        self.0.lease_seqs(c, n).await
    }
    async fn append(&self, e: &[pb::Event]) -> parley_ports::StoreResult<()> {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        self.0.append(e).await
    }
    async fn redact(&self, e: &[pb::Event]) -> parley_ports::StoreResult<()> {
        self.0.redact(e).await
    }
    async fn dedup_lookup(
        &self,
        c: &str,
        s: &str,
        m: &str,
    ) -> parley_ports::StoreResult<Option<u64>> {
        self.0.dedup_lookup(c, s, m).await
    }
    async fn read_range(
        &self,
        c: &str,
        r: parley_ports::ReadRange,
    ) -> parley_ports::StoreResult<Vec<pb::Event>> {
        self.0.read_range(c, r).await
    }
    async fn reactions(
        &self,
        c: &str,
        t: u64,
    ) -> parley_ports::StoreResult<Vec<parley_ports::ReactionRow>> {
        self.0.reactions(c, t).await
    }
    async fn update_conversation(&self, c: &pb::Conversation) -> parley_ports::StoreResult<()> {
        self.0.update_conversation(c).await
    }
    async fn set_joined(&self, c: &str, u: &str, s: u64) -> parley_ports::StoreResult<()> {
        self.0.set_joined(c, u, s).await
    }
    async fn joined(&self, c: &str, u: &str) -> parley_ports::StoreResult<u64> {
        self.0.joined(c, u).await
    }
    async fn settings(
        &self,
        c: &str,
        u: &str,
    ) -> parley_ports::StoreResult<pb::ConversationSettings> {
        self.0.settings(c, u).await
    }
    async fn put_settings(
        &self,
        c: &str,
        u: &str,
        s: &pb::ConversationSettings,
    ) -> parley_ports::StoreResult<()> {
        self.0.put_settings(c, u, s).await
    }
    async fn write_records(
        &self,
        w: Vec<parley_ports::RecordWrite>,
    ) -> parley_ports::StoreResult<()> {
        self.0.write_records(w).await
    }
    async fn record(
        &self,
        k: &parley_ports::RecordKey,
    ) -> parley_ports::StoreResult<Option<Vec<u8>>> {
        self.0.record(k).await
    }
    async fn records(
        &self,
        kind: parley_ports::RecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> parley_ports::StoreResult<Vec<(String, Vec<u8>)>> {
        self.0.records(kind, scope, after, limit).await
    }
    async fn thread_rows(
        &self,
        c: &str,
        roots: (u64, u64),
    ) -> parley_ports::StoreResult<Vec<parley_ports::ThreadRow>> {
        self.0.thread_rows(c, roots).await
    }
    async fn pins(&self, c: &str) -> parley_ports::StoreResult<Vec<parley_ports::PinRow>> {
        self.0.pins(c).await
    }
    async fn head(&self, c: &str) -> parley_ports::StoreResult<u64> {
        self.0.head(c).await
    }
    async fn set_read(&self, c: &str, u: &str, s: u64) -> parley_ports::StoreResult<u64> {
        self.0.set_read(c, u, s).await
    }
}

#[tokio::test]
async fn a_caller_that_goes_away_mid_write_leaves_no_stuck_seq() {
    let dir = tempfile::tempdir().unwrap();
    let s = StorageService::new(
        Arc::new(SlowStore(timeline(dir.path()))),
        Arc::new(MemoryBus::new()),
        StorageConfig::default(),
    );
    let conv = s.create_conversation(group("alice", &[])).await.unwrap();
    // The caller gives up (its RPC was dropped) while the write is under way.
    let cancelled = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        s.append(text(&conv.id, "alice", "m1", "x")),
    )
    .await;
    assert!(cancelled.is_err());
    // Its retry gets the seq the abandoned attempt stored, once.
    let retry = s.append(text(&conv.id, "alice", "m1", "x")).await.unwrap();
    assert_eq!((retry.event.unwrap().seq, retry.duplicate), (2, true));
    let next = s.append(text(&conv.id, "alice", "m2", "x")).await.unwrap();
    assert_eq!(next.event.unwrap().seq, 3);
    let h = s
        .history(history(&conv.id, "alice", 1, 0, 0, false))
        .await
        .unwrap();
    assert_eq!(
        (h.head_seq, h.events.len()),
        (3, 3),
        "the head moves past the abandoned attempt"
    );
}

#[tokio::test]
async fn an_instance_refuses_conversations_it_does_not_own() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        shard_index: Some(0),
        shard_count: 2,
        ..Default::default()
    };
    let s = service(dir.path(), cfg);
    let (mine, theirs) = {
        let ids: Vec<String> = (0..64).map(|i| format!("g{i}")).collect();
        let mine = ids
            .iter()
            .find(|c| parley_core::routing::owner_of(c, 2) == 0)
            .unwrap()
            .clone();
        let theirs = ids
            .iter()
            .find(|c| parley_core::routing::owner_of(c, 2) == 1)
            .unwrap()
            .clone();
        (mine, theirs)
    };
    let mut req = group("alice", &[]);
    req.conversation_id = mine.clone();
    s.create_conversation(req).await.unwrap();
    let mut req = group("alice", &[]);
    req.conversation_id = theirs.clone();
    assert!(matches!(
        s.create_conversation(req).await,
        Err(ServiceError::Internal(_))
    ));
    assert!(matches!(
        s.append(text(&theirs, "alice", "m", "x")).await,
        Err(ServiceError::Internal(_))
    ));
    s.append(text(&mine, "alice", "m", "x")).await.unwrap();
}

#[tokio::test]
async fn the_system_lists_members_but_acts_for_no_one() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    let system = Caller::System.to_proto();
    let members = s
        .list_members(pb::MembersRequest {
            conversation_id: conv.id.clone(),
            caller: system.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(members.members.len(), 2);
    // Nothing that changes a conversation or reads its history acts for
    // the system.
    let mut send = text(&conv.id, "alice", "m1", "x");
    send.caller = system.clone();
    let r = s.append(send).await;
    assert!(matches!(r, Err(ServiceError::PermissionDenied(_))), "{r:?}");
    let mut read = history(&conv.id, "alice", 1, 0, 0, false);
    read.caller = system.clone();
    let r = s.history(read).await;
    assert!(matches!(r, Err(ServiceError::PermissionDenied(_))), "{r:?}");
    // A request without a caller, or with an empty user, is refused: it
    // never means "unchecked".
    for caller in [
        None,
        Some(pb::Caller {
            kind: Some(pb::caller::Kind::UserId(String::new())),
        }),
    ] {
        let r = s
            .list_members(pb::MembersRequest {
                conversation_id: conv.id.clone(),
                caller,
                ..Default::default()
            })
            .await;
        assert!(matches!(r, Err(ServiceError::InvalidArgument(_))), "{r:?}");
    }
}

#[tokio::test]
async fn a_sharded_instance_names_new_groups_it_owns() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        shard_index: Some(1),
        shard_count: 3,
        ..Default::default()
    };
    let s = service(dir.path(), cfg);
    for _ in 0..10 {
        let c = s.create_conversation(group("alice", &[])).await.unwrap();
        assert_eq!(parley_core::routing::owner_of(&c.id, 3), 1);
    }
}

#[tokio::test]
async fn a_client_msg_id_reused_for_another_body_is_refused_not_acked() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    let first = s
        .append(text(&conv.id, "alice", "m1", "hello"))
        .await
        .unwrap();
    // The same retry is a duplicate of the original...
    let again = s
        .append(text(&conv.id, "alice", "m1", "hello"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.event.unwrap().seq, first.event.unwrap().seq);
    // ...another body under the same id is an error, and stores nothing.
    let r = s.append(text(&conv.id, "alice", "m1", "goodbye")).await;
    assert!(matches!(r, Err(ServiceError::AlreadyExists(_))), "{r:?}");
    let next = s
        .append(text(&conv.id, "alice", "m2", "next"))
        .await
        .unwrap();
    assert_eq!(next.event.unwrap().seq, 3, "no seq was used by the refusal");
}

#[tokio::test]
async fn re_adding_members_records_only_newcomers_and_never_an_empty_event() {
    let f = fixture();
    let s = &f.storage;
    let conv = s
        .create_conversation(group("alice", &["bob"]))
        .await
        .unwrap();
    let add = |ids: &[&str]| pb::AddMembersRequest {
        conversation_id: conv.id.clone(),
        caller: user("alice"),
        user_ids: ids.iter().map(|s| s.to_string()).collect(),
        role: 0,
        invite_ids: vec![],
    };
    let r = s.add_members(add(&["bob"])).await;
    assert!(matches!(r, Err(ServiceError::AlreadyExists(_))), "{r:?}");
    let r = s.add_members(add(&["bob", "carol"])).await.unwrap();
    let e = r.event.unwrap();
    assert_eq!(e.seq, 2, "the refusal used no seq");
    match e.body {
        Some(pb::event::Body::MembersAdded(m)) => assert_eq!(m.user_ids, vec!["carol"]),
        other => panic!("{other:?}"),
    }
}
