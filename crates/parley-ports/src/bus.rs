use crate::BusResult;
use async_trait::async_trait;
use bytes::Bytes;
use parley_proto::codec::{self, Encoded, Encoding};
use parley_proto::v1 as pb;
use std::sync::{Arc, OnceLock};

/// A server frame pushed to many connections, encoded at most once per
/// encoding however many recipients it has.
#[derive(Debug)]
pub struct EncodedFrame {
    frame: pb::ServerFrame,
    json: OnceLock<Bytes>,
    proto: OnceLock<Bytes>,
}

impl EncodedFrame {
    pub fn new(frame: pb::ServerFrame) -> Arc<Self> {
        Arc::new(Self {
            frame,
            json: OnceLock::new(),
            proto: OnceLock::new(),
        })
    }

    pub fn frame(&self) -> &pb::ServerFrame {
        &self.frame
    }

    /// The encoded bytes (UTF-8 JSON text for `Encoding::Json`).
    pub fn bytes(&self, encoding: Encoding) -> Bytes {
        let cell = match encoding {
            Encoding::Json => &self.json,
            Encoding::Proto => &self.proto,
        };
        cell.get_or_init(|| match codec::encode_server(encoding, &self.frame) {
            Encoded::Text(t) => Bytes::from(t),
            Encoded::Binary(b) => b,
        })
        .clone()
    }
}

/// What travels to a user's connections.
#[derive(Debug, Clone)]
pub enum Push {
    /// A frame for every connection of the user.
    Frame(Arc<EncodedFrame>),
    /// Close the user's connections of this session (refresh-token reuse, logout).
    CloseSession { session_id: String },
}

/// Receives pushes for one subscribed user. Called on the bus's task: it
/// must not block (queue and return).
pub trait DeliverySink: Send + Sync + 'static {
    fn deliver(&self, user: &str, push: &Push);
}

/// Ends a subscription when dropped.
pub struct Subscription {
    _guard: Box<dyn Send + Sync>,
}

impl Subscription {
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

/// A stored event on its way to fanout: the event, the version of the
/// member list it was stored under (fanout's cached list is used only if it
/// has that version), and the trace context of the send that stored it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredEvent {
    pub event: pb::Event,
    pub members: Option<pb::MembersVersion>,
    /// W3C trace context (traceparent, tracestate).
    pub trace: parley_core::trace::TraceHeaders,
}

impl StoredEvent {
    pub fn new(event: pb::Event) -> Self {
        Self {
            event,
            ..Default::default()
        }
    }
}

/// One stored event handed to a consumer; `ack` once it has been processed.
/// Unacked events are redelivered (at-least-once) by durable implementations.
pub struct StoredDelivery {
    pub event: pb::Event,
    pub members: Option<pb::MembersVersion>,
    /// The trace context of the send that stored the event (W3C headers).
    pub trace: parley_core::trace::TraceHeaders,
    acker: Option<Box<dyn FnOnce() + Send>>,
}

impl StoredDelivery {
    pub fn new(stored: StoredEvent, acker: impl FnOnce() + Send + 'static) -> Self {
        Self {
            event: stored.event,
            members: stored.members,
            trace: stored.trace,
            acker: Some(Box::new(acker)),
        }
    }

    pub fn ack(mut self) {
        if let Some(a) = self.acker.take() {
            a();
        }
    }
}

/// One push for several users, to every gateway.
#[derive(Debug, Clone)]
pub struct Broadcast {
    pub users: Arc<[String]>,
    pub push: Push,
    /// W3C trace context of the send the push belongs to.
    pub trace: parley_core::trace::TraceHeaders,
}

/// Where fanout sends one push for several users: the gateway instance
/// that holds their connections (from presence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRoute {
    pub gateway: String,
    pub users: Vec<String>,
}

#[async_trait]
pub trait StoredConsumer: Send {
    /// The next stored event; `None` once the bus has shut down.
    async fn next(&mut self) -> Option<StoredDelivery>;
}

/// Moves events between services. Implementations: in-process and NATS.
///
/// Two channels with different promises:
/// - deliveries to users (fast path, may drop: clients recover by sync),
///   addressed either to a user wherever they are connected or, cheaper, to
///   the gateway that holds several recipients' connections;
/// - the stored-event stream (at-least-once, shared by a consumer group).
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Sends `push` to every subscriber of each user, on any gateway.
    async fn deliver(&self, users: &[String], push: Push) -> BusResult<()>;
    /// Sends `push` once per route to the gateway named there, for the
    /// users listed (its subscriber's sink is called once per user). A
    /// gateway nobody subscribed drops it.
    async fn deliver_routed(&self, routes: &[GatewayRoute], push: Push) -> BusResult<()>;
    /// Sends each push once to every gateway, for the users listed with
    /// it: each gateway's sink is called once per user and push, in order
    /// (and delivers to those it holds). Needs no knowledge of where anyone
    /// is connected; several pushes travel in as few bus messages as fit.
    async fn broadcast(&self, items: &[Broadcast]) -> BusResult<()>;
    /// Subscribes `sink` to `user`'s deliveries until the handle is dropped.
    async fn subscribe_user(
        &self,
        user: &str,
        sink: Arc<dyn DeliverySink>,
    ) -> BusResult<Subscription>;
    /// Subscribes `sink` to the deliveries routed to gateway `gateway` and
    /// to broadcasts.
    async fn subscribe_gateway(
        &self,
        gateway: &str,
        sink: Arc<dyn DeliverySink>,
    ) -> BusResult<Subscription>;
    /// Appends events to the stored-event stream, in order, as one unit
    /// (all or none); each conversation's events must come in seq order.
    async fn publish_stored(&self, events: &[StoredEvent]) -> BusResult<()>;
    /// How long a publisher should wait after an event arrives before it
    /// publishes, to gather others into the same batch: zero where a
    /// publication is cheap (in-process), a few milliseconds where each one
    /// is a network round trip and work for a server.
    fn publish_linger(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
    /// Joins consumer group `group`: each stored event goes to one member.
    async fn consume_stored(&self, group: &str) -> BusResult<Box<dyn StoredConsumer>>;
    /// The last step of a shutdown: this process's stored-event consumers
    /// end (`next()` returns `None`: in-process once they drained what is
    /// queued, since nothing else would deliver it; on a durable bus at
    /// once, the stream keeps the rest for other workers), and what was
    /// published is flushed. Later publishes fail with `BusError::Closed`.
    async fn close(&self);
}
