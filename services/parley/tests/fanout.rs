//! Fanout with real storage and presence services in process, wired by the
//! composition root's own `wire` functions, its stored-event worker running
//! and its signal API served over gRPC.

use parley::Config;
use parley::backends::Backends;
use parley::internal_tls::InternalTls;
use parley::mode::Mode;
use parley::wire;
use parley_core::Caller;
use parley_core::peer::Peer;
use parley_core::services::{
    FanoutApi, FanoutClient, FanoutGrpc, PresenceApi, PresenceClient, StorageApi, StorageClient,
};
use parley_ports::{DeliverySink, EventBus, Push};
use parley_presence::PresenceService;
use parley_proto::v1 as pb;
use parley_storage::StorageService;
use pb::server_frame::Payload;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

struct Sink(mpsc::UnboundedSender<(String, Payload)>);
impl DeliverySink for Sink {
    fn deliver(&self, user: &str, push: &Push) {
        if let Push::Frame(f) = push {
            let _ = self
                .0
                .send((user.to_string(), f.frame().payload.clone().unwrap()));
        }
    }
}

/// Storage, presence and fanout wired as `parley up` wires them (the
/// memory bus, the fjall timeline store), the stored-event worker running.
struct Fixture {
    _dir: tempfile::TempDir,
    backends: Backends,
    bus: Arc<dyn EventBus>,
    storage: Arc<StorageService>,
    presence: Arc<PresenceService>,
    fanout: wire::Fanout,
}

impl Fixture {
    async fn stop(self) {
        self.backends.close().await;
        self.fanout.finish(Duration::from_secs(10)).await;
    }
}

async fn fixture(delivery: parley_fanout::Delivery) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.fanout.delivery = delivery;
    let backends = Backends::new(&config, Mode::Embedded);
    let storage = wire::storage(&config, &backends).await.unwrap();
    let presence = wire::presence(&config, &backends).await.unwrap();
    let fanout = wire::fanout(
        &config,
        &backends,
        StorageClient::local(storage.clone()),
        PresenceClient::local(presence.clone()),
    )
    .await
    .unwrap();
    Fixture {
        _dir: dir,
        bus: backends.bus().await.unwrap(),
        backends,
        storage,
        presence,
        fanout,
    }
}

/// Marks `user` online with one connection on `gateway` ("": a gateway
/// that does not name itself, reached through the user's own subject).
async fn online(presence: &PresenceService, user: &str, gateway: &str, connection: &str) {
    presence
        .attach(pb::PresenceSession {
            user_id: user.into(),
            connection_id: connection.into(),
            gateway_id: gateway.into(),
        })
        .await
        .unwrap();
}

/// A new group of alice (its creator) and bob.
async fn group_of_alice_and_bob(storage: &StorageService) -> pb::Conversation {
    storage
        .create_conversation(pb::CreateConversationRequest {
            caller: Caller::user("alice").unwrap().to_proto(),
            kind: 2,
            title: "t".into(),
            member_ids: vec!["bob".into()],
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Broadcast: every gateway gets each event once, with all recipients;
/// the gateway delivers to those it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_hands_every_gateway_all_recipients_once() {
    let f = fixture(parley_fanout::Delivery::Broadcast).await;
    let (bus, storage) = (&f.bus, &f.storage);
    let (tx1, mut rx1) = mpsc::unbounded_channel();
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let _g1 = bus
        .subscribe_gateway("gw1", Arc::new(Sink(tx1)))
        .await
        .unwrap();
    let _g2 = bus
        .subscribe_gateway("gw2", Arc::new(Sink(tx2)))
        .await
        .unwrap();
    group_of_alice_and_bob(storage).await;
    for rx in [&mut rx1, &mut rx2] {
        let mut got = Vec::new();
        for _ in 0..2 {
            let (user, p) = timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap();
            assert!(matches!(p, Payload::Event(ref e) if e.seq == 1));
            got.push(user);
        }
        got.sort();
        assert_eq!(got, vec!["alice", "bob"]);
    }
    assert!(
        rx1.try_recv().is_err() && rx2.try_recv().is_err(),
        "once each"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_events_and_signals_reach_online_members_only() {
    let f = fixture(parley_fanout::Delivery::Presence).await;
    let (bus, storage, presence) = (&f.bus, &f.storage, &f.presence);

    let (tx, mut rx) = mpsc::unbounded_channel();
    let sink: Arc<dyn DeliverySink> = Arc::new(Sink(tx));
    // One gateway holds both: deliveries come routed to it.
    let _sub = bus.subscribe_gateway("gw1", sink.clone()).await.unwrap();
    online(presence, "alice", "gw1", "c1").await;

    let conv = group_of_alice_and_bob(storage).await;
    let (user, p) = timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user, "alice",
        "bob is offline per presence: no real-time delivery"
    );
    assert!(matches!(p, Payload::Event(ref e) if e.seq == 1));
    // Over gRPC as in split mode: mutual TLS, the gateway's certificate.
    let certs = tempfile::tempdir().unwrap();
    parley::internal_tls::generate(certs.path(), 1, false).unwrap();
    let tls = |p: Peer| InternalTls::load(&certs.path().join(p.name()), Some(p)).unwrap();
    let fc = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            parley::net::grpc_server(&tls(Peer::Fanout))
                .unwrap()
                .add_service(parley::net::internal(
                    FanoutGrpc(f.fanout.service.clone()).into_service(),
                ))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        FanoutClient::remote(
            parley::net::channel(
                &format!("https://{addr}"),
                &tls(Peer::Gateway),
                Peer::Fanout,
            )
            .unwrap(),
        )
    };
    online(presence, "bob", "gw1", "c2").await;
    fc.typing(pb::TypingSignal {
        conversation_id: conv.id.clone(),
        user_id: "bob".into(),
    })
    .await
    .unwrap();
    let (user, p) = timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, "alice", "typing goes to the others only");
    assert!(matches!(p, Payload::Typing(ref t) if t.user_id == "bob"));
    // A non-member's typing is refused.
    assert!(
        fc.typing(pb::TypingSignal {
            conversation_id: conv.id.clone(),
            user_id: "mallory".into()
        })
        .await
        .is_err()
    );
    fc.receipt(pb::ReceiptSignal {
        conversation_id: conv.id.clone(),
        user_id: "bob".into(),
        read_seq: 1,
    })
    .await
    .unwrap();
    let mut got = vec![];
    for _ in 0..2 {
        let (user, p) = timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(p, Payload::Receipt(ref r) if r.read_seq == 1));
        got.push(user);
    }
    got.sort();
    assert_eq!(got, vec!["alice", "bob"]);
    fc.presence_changed(pb::PresenceInfo {
        user_id: "bob".into(),
        online: true,
        last_seen_ms: 1,
    })
    .await
    .unwrap();
    let (user, p) = timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, "alice");
    assert!(matches!(p, Payload::PresenceChanged(ref i) if i.user_id == "bob"));
    f.stop().await;
}

/// With events of many conversations in flight at once (the worker runs
/// them on concurrent lanes), each conversation's events still reach a
/// member in seq order, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lanes_keep_each_conversations_order() {
    let f = fixture(parley_fanout::Delivery::Presence).await;
    let (bus, storage, presence) = (&f.bus, &f.storage, &f.presence);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _sub = bus
        .subscribe_user("alice", Arc::new(Sink(tx)))
        .await
        .unwrap();
    online(presence, "alice", "", "c1").await;

    const CONVS: usize = 40;
    const MESSAGES: u64 = 25;
    let mut convs = Vec::new();
    for _ in 0..CONVS {
        let c = group_of_alice_and_bob(storage).await;
        convs.push(c.id);
    }
    // Interleave the conversations' sends, as concurrent senders would.
    for i in 0..MESSAGES {
        for c in &convs {
            storage
                .append(pb::AppendRequest {
                    caller: Caller::user("bob").unwrap().to_proto(),
                    send: Some(pb::Send {
                        conversation_id: c.clone(),
                        client_msg_id: format!("m{i}"),
                        body: Some(pb::send::Body::Message(pb::MessageBody {
                            text: format!("{i}"),
                            reply_to_seq: 0,
                            ..Default::default()
                        })),
                    }),
                })
                .await
                .unwrap();
        }
    }
    // seq 1 is each conversation's creation; messages are 2..=MESSAGES+1.
    let expected = CONVS * (MESSAGES as usize + 1);
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    for _ in 0..expected {
        let (_, p) = timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("every event arrives")
            .unwrap();
        let Payload::Event(e) = p else { continue };
        let prev = last.insert(e.conversation_id.clone(), e.seq).unwrap_or(0);
        assert_eq!(
            e.seq,
            prev + 1,
            "conversation {} out of order",
            e.conversation_id
        );
    }
    assert!(last.values().all(|&s| s == MESSAGES + 1));
    f.stop().await;
}
