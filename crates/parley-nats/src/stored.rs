//! The stored-event stream on JetStream. Storage publishes its events in
//! batches: one stream message (`StoredBatch`, header `Parley-Format:
//! batch`) holds everything a publisher lane had queued, so a busy
//! instance pays one acked publish, one delivery and one consumer ack per
//! batch instead of per event. A consumer hands the batch's events out one
//! by one and acks the message once every one of them was processed; if any
//! was not, the whole batch is redelivered (fanout deliveries are
//! at-least-once; clients drop duplicates by seq).
//!
//! Messages of the older format (one `Event` per message, trace in the
//! headers) are still read, so fanout can be upgraded before storage.

use async_nats::jetstream::{self, consumer};
use bytes::Bytes;
use futures::StreamExt;
use parley_ports::{BusError, BusResult, StoredConsumer, StoredDelivery, StoredEvent};
use parley_proto::v1 as pb;
use prost::Message;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Header naming the payload format; absent: one `Event`.
const FORMAT: &str = "Parley-Format";
const BATCH: &str = "batch";
/// Subject of batches (the stream takes `parley.stored.*`).
pub(crate) const BATCH_SUBJECT: &str = "parley.stored.batch";

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

fn to_proto(s: &StoredEvent) -> pb::StoredEvent {
    pb::StoredEvent {
        event: Some(s.event.clone()),
        members: s.members,
        trace: s.trace.iter().cloned().collect(),
    }
}

fn from_proto(s: pb::StoredEvent) -> Option<StoredEvent> {
    Some(StoredEvent {
        event: s.event?,
        members: s.members,
        trace: s.trace.into_iter().collect(),
    })
}

/// Publishes `events` as one stream message and waits for the stream's ack.
/// The message id (JetStream dedup) is that of the first event and the
/// count, so a retried batch is stored once.
pub(crate) async fn publish(js: &jetstream::Context, events: &[StoredEvent]) -> BusResult<()> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(FORMAT, BATCH);
    headers.insert(
        "Nats-Msg-Id",
        format!(
            "{}:{}+{}",
            first.event.conversation_id,
            first.event.seq,
            events.len()
        )
        .as_str(),
    );
    let batch = pb::StoredBatch {
        events: events.iter().map(to_proto).collect(),
    };
    let ack = js
        .publish_with_headers(BATCH_SUBJECT, headers, Bytes::from(batch.encode_to_vec()))
        .await
        .map_err(unavailable)?;
    ack.await.map_err(unavailable)?;
    Ok(())
}

/// The events of one stream message.
fn decode(msg: &async_nats::Message) -> Option<Vec<StoredEvent>> {
    let batch = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(FORMAT))
        .is_some_and(|f| f.as_str() == BATCH);
    if batch {
        let b = pb::StoredBatch::decode(msg.payload.as_ref()).ok()?;
        return b.events.into_iter().map(from_proto).collect();
    }
    let event = pb::Event::decode(msg.payload.as_ref()).ok()?;
    Some(vec![StoredEvent {
        event,
        members: None,
        trace: crate::headers::trace_of(msg.headers.as_ref()),
    }])
}

/// Acks a stream message once all of its events were acked.
struct BatchAck {
    remaining: AtomicUsize,
    acker: parking_lot::Mutex<Option<jetstream::message::Acker>>,
}

impl BatchAck {
    fn done_one(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if let Some(acker) = self.acker.lock().take() {
            tokio::spawn(async move {
                if let Err(e) = acker.ack().await {
                    tracing::debug!(error = %e, "ack failed; the batch will be redelivered");
                }
            });
        }
    }
}

pub(crate) struct JetStreamConsumer {
    pub(crate) consumer: consumer::PullConsumer,
    pub(crate) messages: Option<consumer::pull::Stream>,
    pub(crate) closed: CancellationToken,
    /// The rest of the current batch.
    pub(crate) pending: VecDeque<StoredDelivery>,
}

#[async_trait::async_trait]
impl StoredConsumer for JetStreamConsumer {
    /// Ends when the bus is closed: what this worker has not taken stays in
    /// the stream (and what it took unacked is redelivered) for the others.
    async fn next(&mut self) -> Option<StoredDelivery> {
        let closed = self.closed.clone();
        if closed.is_cancelled() {
            return None;
        }
        if let Some(d) = self.pending.pop_front() {
            return Some(d);
        }
        tokio::select! {
            biased;
            _ = closed.cancelled() => None,
            d = self.next_message() => Some(d),
        }
    }
}

impl JetStreamConsumer {
    async fn next_message(&mut self) -> StoredDelivery {
        loop {
            let messages = match &mut self.messages {
                Some(m) => m,
                None => match self.consumer.messages().await {
                    Ok(m) => self.messages.insert(m),
                    Err(e) => {
                        // The server is away: keep trying until it is back.
                        tracing::debug!(error = %e, "cannot (re)open the JetStream consumer");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                },
            };
            match messages.next().await {
                Some(Ok(msg)) => {
                    let (msg, acker) = msg.split();
                    let Some(events) = decode(&msg).filter(|e| !e.is_empty()) else {
                        tracing::warn!(subject = %msg.subject, "undecodable stored event; dropping it");
                        let _ = acker.ack().await;
                        continue;
                    };
                    let ack = Arc::new(BatchAck {
                        remaining: AtomicUsize::new(events.len()),
                        acker: parking_lot::Mutex::new(Some(acker)),
                    });
                    self.pending.extend(events.into_iter().map(|e| {
                        let ack = ack.clone();
                        StoredDelivery::new(e, move || ack.done_one())
                    }));
                    if let Some(d) = self.pending.pop_front() {
                        return d;
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "JetStream consumer error; reopening");
                    self.messages = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => {
                    self.messages = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}
