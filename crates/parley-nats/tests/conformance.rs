//! The NATS bus against the bus conformance suite, on a real nats-server.

use parley_nats::{NatsBus, NatsBusConfig};
use parley_ports::conformance;
use parley_ports::{EventBus, StoredEvent};
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

fn event(conv: &str, seq: u64) -> StoredEvent {
    StoredEvent::new(pb::Event {
        conversation_id: conv.into(),
        seq,
        ..Default::default()
    })
}

async fn next(c: &mut Box<dyn parley_ports::StoredConsumer>) -> parley_ports::StoredDelivery {
    tokio::time::timeout(Duration::from_secs(10), c.next())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_not_fully_processed_is_redelivered_and_a_retried_one_stored_once() {
    let server = NatsServer::start();
    let mut cfg = NatsBusConfig::new(server.url());
    cfg.ack_wait = Duration::from_secs(1);
    let bus = NatsBus::connect(cfg).await.unwrap();
    let mut first = bus.consume_stored("workers").await.unwrap();
    let batch = [event("c1", 1), event("c1", 2)];
    bus.publish_stored(&batch).await.unwrap();
    // Published twice (a storage retry): JetStream keeps one.
    bus.publish_stored(&batch).await.unwrap();
    bus.publish_stored(&[event("c1", 3)]).await.unwrap();
    // A worker processes seq 1 of the batch and dies before seq 2...
    let d = next(&mut first).await;
    assert_eq!(d.event.seq, 1);
    d.ack();
    let d = next(&mut first).await;
    assert_eq!(d.event.seq, 2);
    drop(d);
    drop(first);
    // ...another worker of the group gets the whole batch again after
    // ack_wait (at-least-once), and seq 3.
    let mut second = bus.consume_stored("workers").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let d = next(&mut second).await;
        seen.push(d.event.seq);
        d.ack();
    }
    seen.sort();
    assert_eq!(seen, vec![1, 2, 3]);
    let extra = tokio::time::timeout(Duration::from_millis(1500), second.next()).await;
    assert!(
        extra.is_err(),
        "the duplicate publish was dropped and acked batches stay acked"
    );
}

/// A stream message of the format before batches (one `Event`, trace in
/// the headers), as a storage of the previous version publishes it during
/// a rolling upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_the_older_format_are_still_consumed() {
    use prost::Message;
    let server = NatsServer::start();
    let bus = NatsBus::connect(NatsBusConfig::new(server.url()))
        .await
        .unwrap();
    let mut consumer = bus.consume_stored("workers").await.unwrap();
    // nats://user:password@host:port (async-nats takes credentials apart).
    let url = server.url();
    let (credentials, _) = url["nats://".len()..].split_once('@').unwrap();
    let (user, password) = credentials.split_once(':').unwrap();
    let client = async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .connect(server.url_without_credentials())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    let old = event("c9", 7).event.encode_to_vec();
    js.publish_with_headers("parley.stored.c9", headers, old.into())
        .await
        .unwrap()
        .await
        .unwrap();
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.event.conversation_id.as_str(), d.event.seq), ("c9", 7));
    assert_eq!(d.members, None);
    assert_eq!(d.trace[0].0, "traceparent");
    d.ack();
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
        assert!(bus.publish_stored(&[event(bad, 1)]).await.is_err());
        let route = parley_ports::GatewayRoute {
            gateway: bad.to_string(),
            users: vec!["u".into()],
        };
        let push = parley_ports::Push::CloseSession {
            session_id: "s".into(),
        };
        assert!(bus.deliver_routed(&[route], push).await.is_err());
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
