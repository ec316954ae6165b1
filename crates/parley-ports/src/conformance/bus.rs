use super::unique;
use crate::{DeliverySink, EncodedFrame, EventBus, Push};
use parley_proto::v1 as pb;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

struct ChannelSink(mpsc::UnboundedSender<(String, Push)>);

impl DeliverySink for ChannelSink {
    fn deliver(&self, user: &str, push: &Push) {
        let _ = self.0.send((user.to_string(), push.clone()));
    }
}

fn sink() -> (
    Arc<dyn DeliverySink>,
    mpsc::UnboundedReceiver<(String, Push)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(ChannelSink(tx)), rx)
}

fn frame(n: u64) -> Push {
    Push::Frame(EncodedFrame::new(pb::ServerFrame {
        id: String::new(),
        payload: Some(pb::server_frame::Payload::Pong(pb::Pong {
            nonce: n as i64,
        })),
    }))
}

fn nonce(p: &Push) -> i64 {
    match p {
        Push::Frame(f) => match &f.frame().payload {
            Some(pb::server_frame::Payload::Pong(p)) => p.nonce,
            other => panic!("unexpected payload {other:?}"),
        },
        Push::CloseSession { .. } => panic!("unexpected close"),
    }
}

/// Runs every event-bus check; closes the bus last.
pub async fn run(bus: Arc<dyn EventBus>) {
    user_deliveries(&*bus).await;
    stored_stream_is_shared_by_a_group(&*bus).await;
    close_ends_consumers(&*bus).await;
}

async fn user_deliveries(bus: &dyn EventBus) {
    let (a, b, nobody) = (unique("a"), unique("b"), unique("n"));
    let (sa, mut ra) = sink();
    let (sb, mut rb) = sink();
    let sub_a = bus.subscribe_user(&a, sa).await.unwrap();
    let _sub_b = bus.subscribe_user(&b, sb).await.unwrap();
    // Delivering to a user nobody subscribed is not an error.
    bus.deliver(&[a.clone(), b.clone(), nobody], frame(1))
        .await
        .unwrap();
    let (user, p) = timeout(WAIT, ra.recv()).await.unwrap().unwrap();
    assert_eq!((user.as_str(), nonce(&p)), (a.as_str(), 1));
    let (user, p) = timeout(WAIT, rb.recv()).await.unwrap().unwrap();
    assert_eq!((user.as_str(), nonce(&p)), (b.as_str(), 1));

    // Order per user is kept.
    for n in 2..50 {
        bus.deliver(std::slice::from_ref(&a), frame(n))
            .await
            .unwrap();
    }
    for n in 2..50 {
        assert_eq!(
            nonce(&timeout(WAIT, ra.recv()).await.unwrap().unwrap().1),
            n
        );
    }
    bus.deliver(
        std::slice::from_ref(&b),
        Push::CloseSession {
            session_id: "s1".into(),
        },
    )
    .await
    .unwrap();
    match timeout(WAIT, rb.recv()).await.unwrap().unwrap().1 {
        Push::CloseSession { session_id } => assert_eq!(session_id, "s1"),
        Push::Frame(_) => panic!("expected a close"),
    }

    // Dropping the subscription stops deliveries.
    drop(sub_a);
    bus.deliver(std::slice::from_ref(&a), frame(99))
        .await
        .unwrap();
    bus.deliver(std::slice::from_ref(&b), frame(100))
        .await
        .unwrap();
    assert_eq!(
        nonce(&timeout(WAIT, rb.recv()).await.unwrap().unwrap().1),
        100
    );
    assert!(ra.try_recv().is_err(), "no delivery after unsubscribe");
}

async fn stored_stream_is_shared_by_a_group(bus: &dyn EventBus) {
    let group = unique("g");
    let mut c1 = bus.consume_stored(&group).await.unwrap();
    let mut c2 = bus.consume_stored(&group).await.unwrap();
    let conv = unique("c");
    let n = 40u64;
    for seq in 1..=n {
        let e = pb::Event {
            conversation_id: conv.clone(),
            seq,
            ..Default::default()
        };
        bus.publish_stored(&e).await.unwrap();
    }
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < n as usize {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stored events missing: saw {}",
            seen.len()
        );
        let d = tokio::select! {
            d = c1.next() => d,
            d = c2.next() => d,
        };
        let d = d.expect("bus closed");
        if d.event.conversation_id == conv {
            seen.insert(d.event.seq);
        }
        d.ack();
    }
    assert_eq!(seen.len(), n as usize);
}

async fn close_ends_consumers(bus: &dyn EventBus) {
    let mut consumer = bus.consume_stored(&unique("g")).await.unwrap();
    bus.close().await;
    let end = timeout(WAIT, async {
        // An in-process bus hands out what was queued first; then `None`.
        while consumer.next().await.is_some() {}
    })
    .await;
    assert!(end.is_ok(), "a consumer ends after close");
    let e = pb::Event {
        conversation_id: unique("c"),
        seq: 1,
        ..Default::default()
    };
    assert!(
        matches!(bus.publish_stored(&e).await, Err(crate::BusError::Closed)),
        "publishing after close is refused"
    );
}
