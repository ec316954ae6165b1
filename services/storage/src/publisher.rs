//! Publishes stored events to the bus, each conversation's in the order
//! they were stored, off the send path: an ack never waits on the bus. A
//! bus outage delays the real-time path (events are retried in order until
//! the bus is back); it never fails a send, because storage is the commit
//! point.
//!
//! One publication is in flight at a time, in stored order; everything
//! queued while it waited for the bus (and, on a bus that asks for it,
//! during a short linger) goes out as the next batch: one acked JetStream
//! message instead of one per event. Batches grow with load, so the bus's
//! cost per event falls as traffic rises. (Sixteen lanes publishing one
//! event each, as before batching, cost NATS ~4 operations per event.)

use parley_ports::{BusError, EventBus, StoredEvent};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Events waiting for the bus before new ones are dropped from the
/// real-time path (they stay stored; clients get them by sync).
const BACKLOG: usize = 100_000;
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Largest batch, in events and in encoded bytes (a bus message stays far
/// below NATS's 1 MB payload limit).
const BATCH_EVENTS: usize = 256;
const BATCH_BYTES: usize = 256 * 1024;

pub(crate) struct Publisher {
    /// Each event with the trace context of the send that stored it.
    queue: mpsc::Sender<StoredEvent>,
    pending: Arc<AtomicUsize>,
}

impl Publisher {
    /// Starts the publishing task (it ends when the publisher is dropped).
    pub(crate) fn spawn(bus: Arc<dyn EventBus>) -> Self {
        let pending = Arc::new(AtomicUsize::new(0));
        let (queue, rx) = mpsc::channel(BACKLOG);
        tokio::spawn(run(bus, rx, pending.clone()));
        Self { queue, pending }
    }

    /// Queues `stored` (its trace is taken from the current span).
    pub(crate) fn enqueue(&self, mut stored: StoredEvent) {
        let backlog = self.pending.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("parley_storage_publish_backlog").set(backlog as f64);
        stored.trace = parley_core::trace::current_headers();
        if self.queue.try_send(stored).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            metrics::counter!("parley_storage_publish_dropped_total").increment(1);
            tracing::warn!("stored-event backlog full: an event skips the real-time path");
        }
    }

    /// Events stored but not yet on the bus.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

async fn run(
    bus: Arc<dyn EventBus>,
    mut rx: mpsc::Receiver<StoredEvent>,
    pending: Arc<AtomicUsize>,
) {
    let linger = bus.publish_linger();
    let mut batch = Vec::with_capacity(BATCH_EVENTS);
    while let Some(first) = rx.recv().await {
        if !linger.is_zero() {
            tokio::time::sleep(linger).await;
        }
        let mut bytes = first.event.encoded_len();
        batch.push(first);
        while batch.len() < BATCH_EVENTS && bytes < BATCH_BYTES {
            let Ok(next) = rx.try_recv() else { break };
            bytes += next.event.encoded_len();
            batch.push(next);
        }
        metrics::histogram!("parley_storage_publish_batch_events").record(batch.len() as f64);
        // The batch's span continues the trace of its first send; every
        // other send of the batch gets a span of its own in its own trace,
        // open for as long as the batch's publication (a trace shows its
        // send's publication whichever send it was batched with).
        let first = &batch[0].event;
        let span = tracing::info_span!("publish_stored", conversation = %first.conversation_id, seq = first.seq, events = batch.len());
        parley_core::trace::set_parent(&span, &batch[0].trace);
        let batched: Vec<tracing::Span> = batch[1..]
            .iter()
            .map(|s| {
                let span = tracing::info_span!("publish_stored", conversation = %s.event.conversation_id, seq = s.event.seq, events = batch.len(), batched_with = first.seq);
                parley_core::trace::set_parent(&span, &s.trace);
                span
            })
            .collect();
        tracing::Instrument::instrument(publish_until_done(&*bus, &batch), span).await;
        drop(batched);
        let backlog = pending.fetch_sub(batch.len(), Ordering::Relaxed) - batch.len();
        metrics::gauge!("parley_storage_publish_backlog").set(backlog as f64);
        batch.clear();
    }
}

/// Publishes one batch, retrying it unchanged (its bus message id then
/// dedups a publication that did arrive) with backoff until the bus takes
/// it or is closed (shutdown: the events stay stored; clients sync).
async fn publish_until_done(bus: &dyn EventBus, batch: &[StoredEvent]) {
    let mut backoff = Duration::from_millis(50);
    let mut failures = 0u32;
    while let Err(e) = bus.publish_stored(batch).await {
        if matches!(e, BusError::Closed) {
            metrics::counter!("parley_storage_publish_dropped_total").increment(batch.len() as u64);
            return;
        }
        failures += 1;
        metrics::counter!("parley_storage_publish_errors_total").increment(1);
        if failures == 1 {
            tracing::warn!(error = %e, events = batch.len(), "bus unavailable; retrying stored-event publication");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    if failures > 0 {
        tracing::info!(failures, "stored-event publication resumed");
    }
}
