//! `parley up` honours the backends its configuration names and refuses
//! what it would not honour; a data directory of an older layout is
//! refused until it is imported (`parley migrate --from-redb`).

mod common;

use common::TestNode;
use parley_embedded::{EmbeddedDb, RedbTimelineStore};
use parley_nats::{NatsBus, NatsBusConfig};
use parley_ports::{DeliverySink, EventBus, PresenceStore, Push, TimelineStore};
use parley_redis::RedisPresence;
use parley_sdk::{ClientEvent, pb};
use parley_testkit::{NatsServer, RedisServer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

struct Forward(mpsc::UnboundedSender<Push>);

impl DeliverySink for Forward {
    fn deliver(&self, _user: &str, push: &Push) {
        let _ = self.0.send(push.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parley_up_delivers_over_nats_and_keeps_presence_in_redis() {
    let nats = NatsServer::start();
    let redis = RedisServer::start();
    let node = TestNode::start_with(|c| {
        c.cluster.bus = nats.url();
        c.cluster.presence_store = redis.url();
    })
    .await;
    let (alice, _alice_ev) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;

    // Presence went to Redis: read it there directly.
    let presence = RedisPresence::connect(&redis.url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let info = presence.query(&[bob.user_id()]).await.unwrap();
        if info.first().is_some_and(|p| p.online) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob never online in Redis"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Deliveries went over NATS, routed to the gateway that presence says
    // holds bob's connection: a second subscriber to its subject sees them.
    let routes = presence.routes(&[bob.user_id()]).await.unwrap();
    let gateway = routes[0].gateway_ids[0].clone();
    let watcher = NatsBus::connect(NatsBusConfig::new(nats.url()))
        .await
        .unwrap();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let _sub = watcher
        .subscribe_gateway(&gateway, Arc::new(Forward(tx)))
        .await
        .unwrap();
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let ack = alice.send_text(&dm.id, "over nats").await.unwrap();
    bob_ev
        .wait(|e| matches!(e, ClientEvent::Event(ev) if ev.seq == ack.seq).then_some(()))
        .await;
    let got = tokio::time::timeout(common::WAIT, async {
        loop {
            if let Some(Push::Frame(f)) = seen.recv().await
                && matches!(&f.frame().payload, Some(pb::server_frame::Payload::Event(e)) if e.seq == ack.seq)
            {
                return;
            }
        }
    })
    .await;
    assert!(got.is_ok(), "the delivery crossed NATS");
}

#[tokio::test]
async fn parley_up_refuses_split_mode_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = parley::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    config.cluster.storage_urls = vec!["http://storage-0:7002".into()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = parley::start_embedded(config, listener, None)
        .await
        .err()
        .expect("refused");
    let err = format!("{err:#}");
    assert!(err.contains("cluster.storage_urls"), "{err}");
}

#[tokio::test]
async fn an_older_redb_timeline_is_refused_until_imported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let redb = EmbeddedDb::open(&dir.path().join("parley.redb")).unwrap();
        let old = RedbTimelineStore::new(redb);
        let conv = pb::Conversation {
            id: "c".into(),
            ..Default::default()
        };
        old.create_conversation(&conv).await.unwrap();
        old.lease_seqs("c", 10).await.unwrap();
    }
    let config = parley::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = parley::start_embedded(config.clone(), listener, None)
        .await
        .err()
        .expect("refused");
    let err = format!("{err:#}");
    assert!(err.contains("parley migrate --from-redb"), "{err}");

    parley::commands::migrate::from_redb(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = parley::start_embedded(config.clone(), listener, None)
        .await
        .expect("starts after the import");
    node.shutdown().await.unwrap();
    // A second import finds the timeline already there and changes nothing.
    parley::commands::migrate::from_redb(&config).await.unwrap();
}
