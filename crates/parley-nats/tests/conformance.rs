//! The NATS bus against the bus conformance suite, on a real nats-server.

use parley_nats::{NatsBus, NatsBusConfig};
use parley_ports::EventBus;
use parley_ports::conformance;
use parley_proto::v1 as pb;
use parley_testkit::NatsServer;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_bus_conforms() {
    let server = NatsServer::start();
    let bus = NatsBus::connect(NatsBusConfig::new(server.url()))
        .await
        .unwrap();
    conformance::bus::run(Arc::new(bus)).await;
}

fn event(conv: &str, seq: u64) -> pb::Event {
    pb::Event {
        conversation_id: conv.into(),
        seq,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_stored_events_are_redelivered_and_duplicates_dropped() {
    let server = NatsServer::start();
    let mut cfg = NatsBusConfig::new(server.url());
    cfg.ack_wait = Duration::from_secs(1);
    let bus = NatsBus::connect(cfg).await.unwrap();
    let mut first = bus.consume_stored("workers").await.unwrap();
    bus.publish_stored(&event("c1", 1)).await.unwrap();
    // Published twice (a storage retry): JetStream keeps one.
    bus.publish_stored(&event("c1", 1)).await.unwrap();
    bus.publish_stored(&event("c1", 2)).await.unwrap();
    // A worker takes seq 1 and dies without acking...
    let d = tokio::time::timeout(Duration::from_secs(10), first.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.event.seq, 1);
    drop(d);
    drop(first);
    // ...another worker of the group gets it again after ack_wait.
    let mut second = bus.consume_stored("workers").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let d = tokio::time::timeout(Duration::from_secs(10), second.next())
            .await
            .unwrap()
            .unwrap();
        seen.push(d.event.seq);
        d.ack();
    }
    seen.sort();
    assert_eq!(seen, vec![1, 2]);
    let extra = tokio::time::timeout(Duration::from_millis(1500), second.next()).await;
    assert!(
        extra.is_err(),
        "the duplicate publish was dropped and acked events stay acked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_never_become_wildcard_subjects() {
    let server = NatsServer::start();
    let bus = NatsBus::connect(NatsBusConfig::new(server.url()))
        .await
        .unwrap();
    for bad in ["a.b", "*", ">", "a b"] {
        assert!(
            bus.deliver(
                &[bad.to_string()],
                parley_ports::Push::CloseSession {
                    session_id: "s".into()
                }
            )
            .await
            .is_err()
        );
        assert!(bus.publish_stored(&event(bad, 1)).await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_without_the_right_credentials_is_refused_clearly() {
    let server = NatsServer::start();
    let wrong = server.url().replace("parley:", "parley:not");
    for url in [server.url_without_credentials(), wrong] {
        let started = std::time::Instant::now();
        let err = NatsBus::connect(NatsBusConfig::new(url))
            .await
            .expect_err("nats-server requires a password")
            .to_string();
        assert!(err.contains("refused the credentials"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "refused, not timed out"
        );
    }
}
