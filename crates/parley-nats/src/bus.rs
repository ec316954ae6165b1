use crate::credentials::Auth;
use crate::headers::trace_of;
use crate::push::{
    decode_broadcast, decode_push, decode_routed, encode_broadcast, encode_push, encode_routed,
};
use crate::stored::JetStreamConsumer;
use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use futures::StreamExt;
use parley_core::ids::validate_id;
use parley_ports::{
    Broadcast, BusError, BusResult, DeliverySink, EventBus, GatewayRoute, Push, StoredConsumer,
    StoredEvent, Subscription,
};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Names on the NATS server.
#[derive(Debug, Clone)]
pub struct NatsBusConfig {
    pub url: String,
    pub stream: String,
    /// How long stored events are kept for consumers that fall behind.
    pub stream_max_age: Duration,
    /// An event not acked within this is redelivered.
    pub ack_wait: Duration,
    /// Copies of the stored-event stream in a NATS cluster (1, or 3 to
    /// survive a server loss). Applies when the stream is created.
    pub stream_replicas: usize,
    /// Storage waits this long after an event before publishing, so that
    /// a batch gathers more events (see `EventBus::publish_linger`).
    pub publish_linger: Duration,
}

impl NatsBusConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "PARLEY_STORED".into(),
            stream_max_age: Duration::from_secs(24 * 3600),
            ack_wait: Duration::from_secs(30),
            stream_replicas: 1,
            publish_linger: Duration::from_millis(2),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// Checks a name that becomes part of a subject or a consumer name: ids
/// are validated by the services already; this keeps `.`, `*` and `>` out
/// of subjects whatever a caller passes.
fn valid_name(what: &str, name: &str) -> BusResult<()> {
    validate_id(what, name).map_err(|e| BusError::InvalidName(e.to_string()))
}

fn user_subject(user: &str) -> BusResult<String> {
    valid_name("user_id", user)?;
    Ok(format!("parley.user.{user}"))
}

fn gateway_subject(gateway: &str) -> BusResult<String> {
    valid_name("gateway_id", gateway)?;
    Ok(format!("parley.gateway.{gateway}"))
}

/// Every gateway subscribes here too (a token count of its own, so no
/// gateway id can name it).
const BROADCAST_SUBJECT: &str = "parley.gateways";

/// The NATS event bus.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    js: jetstream::Context,
    stream: stream::Stream,
    config: NatsBusConfig,
    /// Cancelled by `close`: consumers end, publishes are refused.
    closed: CancellationToken,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configured URL may hold a password: show it without.
        let target = crate::credentials::parse(&self.config.url);
        f.debug_struct("NatsBus").field("target", &target).finish()
    }
}

impl NatsBus {
    /// Connects (retrying in the background after the first success) and
    /// creates the stored-event stream if missing.
    pub async fn connect(config: NatsBusConfig) -> BusResult<Self> {
        let target = crate::credentials::parse(&config.url)?;
        let options = match target.auth.clone() {
            Auth::None => async_nats::ConnectOptions::new(),
            Auth::UserPassword(u, p) => async_nats::ConnectOptions::with_user_and_password(u, p),
            Auth::Token(t) => async_nats::ConnectOptions::with_token(t),
        };
        // A refused login is not a server that is down: say so at once
        // instead of retrying until the stream times out.
        let (refused_tx, refused) = tokio::sync::watch::channel(false);
        let options = options.event_callback(move |event| {
            let refused_tx = refused_tx.clone();
            async move {
                let refused = match &event {
                    async_nats::Event::ServerError(
                        async_nats::ServerError::AuthorizationViolation,
                    ) => true,
                    // A failed (re)connect reports its cause as text.
                    async_nats::Event::ClientError(async_nats::ClientError::Other(why)) => {
                        let why = why.to_ascii_lowercase();
                        why.contains("authorization") || why.contains("authentication")
                    }
                    _ => false,
                };
                if refused {
                    tracing::error!("NATS refused the credentials in cluster.bus");
                    let _ = refused_tx.send(true);
                } else {
                    tracing::debug!(%event, "NATS");
                }
            }
        });
        let client = options
            .name("parley")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(target.url.as_str())
            .await
            .map_err(unavailable)?;
        let js = jetstream::new(client.clone());
        let mut refused = refused;
        let create = tokio::time::timeout(
            Duration::from_secs(30),
            js.get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec!["parley.stored.*".into()],
                storage: stream::StorageType::File,
                max_age: config.stream_max_age,
                duplicate_window: Duration::from_secs(120),
                num_replicas: config.stream_replicas.max(1),
                ..Default::default()
            }),
        );
        let stream = tokio::select! {
            created = create => created
                .map_err(|_| unavailable("timed out creating the JetStream stream"))?
                .map_err(unavailable)?,
            _ = refused.wait_for(|r| *r) => {
                return Err(BusError::Unavailable(
                    "NATS refused the credentials in cluster.bus (nats://user:password@host)".into(),
                ));
            }
        };
        Ok(Self {
            client,
            js,
            stream,
            config,
            closed: CancellationToken::new(),
        })
    }

    /// Waits until everything published so far reached the server.
    pub async fn flush(&self) -> BusResult<()> {
        self.client.flush().await.map_err(unavailable)
    }
}

struct SubscriptionTask(tokio::task::JoinHandle<()>);

impl Drop for SubscriptionTask {
    fn drop(&mut self) {
        // Ending the task drops the NATS subscriber, which unsubscribes.
        self.0.abort();
    }
}

#[async_trait]
impl EventBus for NatsBus {
    async fn deliver(&self, users: &[String], push: Push) -> BusResult<()> {
        let payload = encode_push(&push);
        let headers = crate::headers::current();
        for user in users {
            let subject = user_subject(user)?;
            // Buffered by the client and written in batches: no round trip per user.
            self.client
                .publish_with_headers(subject, headers.clone(), payload.clone())
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn deliver_routed(&self, routes: &[GatewayRoute], push: Push) -> BusResult<()> {
        let payload = encode_push(&push);
        let headers = crate::headers::current();
        for route in routes {
            let subject = gateway_subject(&route.gateway)?;
            for message in encode_routed(&route.users, &payload) {
                self.client
                    .publish_with_headers(subject.clone(), headers.clone(), message)
                    .await
                    .map_err(unavailable)?;
            }
        }
        Ok(())
    }

    async fn broadcast(&self, items: &[Broadcast]) -> BusResult<()> {
        let encoded: Vec<_> = items
            .iter()
            .map(|b| (&b.users[..], encode_push(&b.push), &b.trace))
            .collect();
        for message in encode_broadcast(&encoded) {
            self.client
                .publish(BROADCAST_SUBJECT, message)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn subscribe_user(
        &self,
        user: &str,
        sink: Arc<dyn DeliverySink>,
    ) -> BusResult<Subscription> {
        let mut sub = self
            .client
            .subscribe(user_subject(user)?)
            .await
            .map_err(unavailable)?;
        let user = user.to_string();
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                if let Some(push) = decode_push(&msg.payload) {
                    // Continue the trace of the send this delivery belongs to.
                    let span = tracing::info_span!("bus_delivery");
                    parley_core::trace::set_parent(&span, &trace_of(msg.headers.as_ref()));
                    let _entered = span.enter();
                    sink.deliver(&user, &push);
                }
            }
        });
        // Make sure the server knows the subscription before returning, so
        // that a delivery published right after is not missed.
        self.client.flush().await.map_err(unavailable)?;
        Ok(Subscription::new(SubscriptionTask(task)))
    }

    async fn subscribe_gateway(
        &self,
        gateway: &str,
        sink: Arc<dyn DeliverySink>,
    ) -> BusResult<Subscription> {
        let own = self
            .client
            .subscribe(gateway_subject(gateway)?)
            .await
            .map_err(unavailable)?;
        let all = self
            .client
            .subscribe(BROADCAST_SUBJECT)
            .await
            .map_err(unavailable)?;
        let mut sub = futures::stream::select(own, all);
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let items = if msg.subject.as_str() == BROADCAST_SUBJECT {
                    decode_broadcast(&msg.payload)
                } else {
                    decode_routed(&msg.payload).map(|item| vec![item])
                };
                let Some(items) = items else {
                    tracing::warn!(subject = %msg.subject, "undecodable delivery; dropping it");
                    continue;
                };
                for item in &items {
                    // Continue the trace of the send this push belongs to.
                    let span = tracing::info_span!("bus_delivery");
                    let trace = if item.trace.is_empty() {
                        trace_of(msg.headers.as_ref())
                    } else {
                        item.trace.clone()
                    };
                    parley_core::trace::set_parent(&span, &trace);
                    let _entered = span.enter();
                    for user in &item.users {
                        sink.deliver(user, &item.push);
                    }
                }
            }
        });
        self.client.flush().await.map_err(unavailable)?;
        Ok(Subscription::new(SubscriptionTask(task)))
    }

    async fn publish_stored(&self, events: &[StoredEvent]) -> BusResult<()> {
        if self.closed.is_cancelled() {
            return Err(BusError::Closed);
        }
        for e in events {
            valid_name("conversation_id", &e.event.conversation_id)?;
        }
        crate::stored::publish(&self.js, events).await
    }

    fn publish_linger(&self) -> Duration {
        self.config.publish_linger
    }

    async fn consume_stored(&self, group: &str) -> BusResult<Box<dyn StoredConsumer>> {
        valid_name("group", group)?;
        let consumer: consumer::PullConsumer = self
            .stream
            .get_or_create_consumer(
                group,
                consumer::pull::Config {
                    durable_name: Some(group.to_string()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.config.ack_wait,
                    deliver_policy: consumer::DeliverPolicy::New,
                    ..Default::default()
                },
            )
            .await
            .map_err(unavailable)?;
        let messages = consumer.messages().await.map_err(unavailable)?;
        Ok(Box::new(JetStreamConsumer {
            consumer,
            messages: Some(messages),
            closed: self.closed.clone(),
            pending: Default::default(),
        }))
    }

    async fn close(&self) {
        self.closed.cancel();
        if let Err(e) = self.client.flush().await {
            tracing::warn!(error = %e, "could not flush NATS at shutdown");
        }
    }
}
