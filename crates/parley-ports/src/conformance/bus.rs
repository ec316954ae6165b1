use super::unique;
use crate::{Broadcast, DeliverySink, EncodedFrame, EventBus, GatewayRoute, Push, StoredEvent};
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
    gateway_deliveries(&*bus).await;
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

async fn gateway_deliveries(bus: &dyn EventBus) {
    let (g1, g2, nowhere) = (unique("g"), unique("g"), unique("g"));
    let (s1, mut r1) = sink();
    let (s2, mut r2) = sink();
    let sub1 = bus.subscribe_gateway(&g1, s1).await.unwrap();
    let _sub2 = bus.subscribe_gateway(&g2, s2).await.unwrap();
    let route = |g: &str, users: &[&str]| GatewayRoute {
        gateway: g.to_string(),
        users: users.iter().map(|u| u.to_string()).collect(),
    };
    // A gateway nobody subscribed is not an error.
    let routes = [
        route(&g1, &["a", "b"]),
        route(&g2, &["c"]),
        route(&nowhere, &["d"]),
    ];
    bus.deliver_routed(&routes, frame(1)).await.unwrap();
    for want in ["a", "b"] {
        let (user, p) = timeout(WAIT, r1.recv()).await.unwrap().unwrap();
        assert_eq!((user.as_str(), nonce(&p)), (want, 1));
    }
    let (user, p) = timeout(WAIT, r2.recv()).await.unwrap().unwrap();
    assert_eq!((user.as_str(), nonce(&p)), ("c", 1));

    // Order per gateway is kept; a channel's thousands of recipients on
    // one gateway all arrive.
    let many: Vec<String> = (0..3_000).map(|i| format!("member-{i:06}")).collect();
    for n in 2..20 {
        bus.deliver_routed(&[route(&g2, &["c"])], frame(n))
            .await
            .unwrap();
    }
    bus.deliver_routed(
        &[GatewayRoute {
            gateway: g2.clone(),
            users: many.clone(),
        }],
        frame(20),
    )
    .await
    .unwrap();
    for n in 2..20 {
        assert_eq!(
            nonce(&timeout(WAIT, r2.recv()).await.unwrap().unwrap().1),
            n
        );
    }
    for want in &many {
        let (user, p) = timeout(WAIT, r2.recv()).await.unwrap().unwrap();
        assert_eq!((&user, nonce(&p)), (want, 20));
    }

    // A broadcast reaches every gateway, once, for every user listed with
    // each push, in order; a channel's thousands of members too.
    let to = |users: &[&str], n| Broadcast {
        users: users.iter().map(|u| u.to_string()).collect(),
        push: frame(n),
        trace: Vec::new(),
    };
    let big = Broadcast {
        users: many.iter().cloned().collect(),
        push: frame(52),
        trace: Vec::new(),
    };
    bus.broadcast(&[to(&["x", "y"], 50), to(&["z"], 51), big])
        .await
        .unwrap();
    for rx in [&mut r1, &mut r2] {
        for (want, n) in [("x", 50), ("y", 50), ("z", 51)] {
            let (user, p) = timeout(WAIT, rx.recv()).await.unwrap().unwrap();
            assert_eq!((user.as_str(), nonce(&p)), (want, n));
        }
        for want in &many {
            let (user, p) = timeout(WAIT, rx.recv()).await.unwrap().unwrap();
            assert_eq!((&user, nonce(&p)), (want, 52));
        }
    }

    // Dropping the subscription stops deliveries.
    drop(sub1);
    bus.broadcast(&[to(&["x"], 98)]).await.unwrap();
    assert_eq!(
        nonce(&timeout(WAIT, r2.recv()).await.unwrap().unwrap().1),
        98
    );
    bus.deliver_routed(&[route(&g1, &["a"])], frame(99))
        .await
        .unwrap();
    bus.deliver_routed(&[route(&g2, &["c"])], frame(100))
        .await
        .unwrap();
    assert_eq!(
        nonce(&timeout(WAIT, r2.recv()).await.unwrap().unwrap().1),
        100
    );
    assert!(r1.try_recv().is_err(), "no delivery after unsubscribe");
}

async fn stored_stream_is_shared_by_a_group(bus: &dyn EventBus) {
    let group = unique("g");
    let mut c1 = bus.consume_stored(&group).await.unwrap();
    let mut c2 = bus.consume_stored(&group).await.unwrap();
    let conv = unique("c");
    let n = 40u64;
    let stored = |seq: u64| StoredEvent {
        event: pb::Event {
            conversation_id: conv.clone(),
            seq,
            ..Default::default()
        },
        members: Some(pb::MembersVersion {
            epoch: 9,
            counter: seq,
        }),
        trace: vec![("traceparent".into(), format!("00-{seq:032x}-{seq:016x}-01"))],
    };
    // Batches of 1, 2, 3, ... events, as a publisher lane forms them.
    let mut next = 1;
    let mut size = 1;
    while next <= n {
        let batch: Vec<StoredEvent> = (next..(next + size).min(n + 1)).map(stored).collect();
        next += batch.len() as u64;
        size += 1;
        bus.publish_stored(&batch).await.unwrap();
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
            let want = stored(d.event.seq);
            assert_eq!(d.members, want.members, "the member version travels along");
            assert_eq!(d.trace, want.trace, "the trace context travels along");
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
    let e = StoredEvent::new(pb::Event {
        conversation_id: unique("c"),
        seq: 1,
        ..Default::default()
    });
    assert!(
        matches!(
            bus.publish_stored(std::slice::from_ref(&e)).await,
            Err(crate::BusError::Closed)
        ),
        "publishing after close is refused"
    );
}
