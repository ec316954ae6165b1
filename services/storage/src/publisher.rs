//! Publishes stored events to the bus, each conversation's in the order
//! they were stored, off the send path: an ack never waits on the bus. A
//! bus outage delays the real-time path (events are retried in order until
//! the bus is back); it never fails a send, because storage is the commit
//! point.

use parley_ports::{BusError, EventBus};
use parley_proto::v1 as pb;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Events waiting for the bus before new ones are dropped from the
/// real-time path (they stay stored; clients get them by sync).
const BACKLOG: usize = 100_000;
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Publications in flight at once. Each waits for the bus's ack (a round
/// trip to JetStream): one at a time, an instance published ~1,000
/// events/s whatever its CPU. Lanes are per conversation, so each
/// conversation's events still reach the bus in seq order.
const LANES: usize = 16;

type Queued = (pb::Event, parley_core::trace::TraceHeaders);

pub(crate) struct Publisher {
    /// Each event with the trace context of the send that stored it.
    lanes: Vec<mpsc::Sender<Queued>>,
    pending: Arc<AtomicUsize>,
}

impl Publisher {
    /// Starts the publishing tasks (they end when the publisher is dropped).
    pub(crate) fn spawn(bus: Arc<dyn EventBus>) -> Self {
        let pending = Arc::new(AtomicUsize::new(0));
        let lanes = (0..LANES)
            .map(|_| {
                let (tx, rx) = mpsc::channel(BACKLOG / LANES);
                tokio::spawn(run(bus.clone(), rx, pending.clone()));
                tx
            })
            .collect();
        Self { lanes, pending }
    }

    pub(crate) fn enqueue(&self, event: pb::Event) {
        let backlog = self.pending.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("parley_storage_publish_backlog").set(backlog as f64);
        let lane = parley_core::lanes::lane_of(&event.conversation_id, LANES);
        if self.lanes[lane]
            .try_send((event, parley_core::trace::current_headers()))
            .is_err()
        {
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

async fn run(bus: Arc<dyn EventBus>, mut rx: mpsc::Receiver<Queued>, pending: Arc<AtomicUsize>) {
    while let Some((event, trace)) = rx.recv().await {
        let span = tracing::info_span!("publish_stored", conversation = %event.conversation_id, seq = event.seq);
        parley_core::trace::set_parent(&span, &trace);
        tracing::Instrument::instrument(publish_until_done(&*bus, &event), span).await;
        let backlog = pending.fetch_sub(1, Ordering::Relaxed) - 1;
        metrics::gauge!("parley_storage_publish_backlog").set(backlog as f64);
    }
}

/// Publishes one event, retrying with backoff until the bus takes it or
/// is closed (shutdown: the event stays stored; clients get it by sync).
async fn publish_until_done(bus: &dyn EventBus, event: &pb::Event) {
    let mut backoff = Duration::from_millis(50);
    let mut failures = 0u32;
    while let Err(e) = bus.publish_stored(event).await {
        if matches!(e, BusError::Closed) {
            metrics::counter!("parley_storage_publish_dropped_total").increment(1);
            return;
        }
        failures += 1;
        metrics::counter!("parley_storage_publish_errors_total").increment(1);
        if failures == 1 {
            tracing::warn!(error = %e, conversation = %event.conversation_id, seq = event.seq, "bus unavailable; retrying stored-event publication");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    if failures > 0 {
        tracing::info!(failures, "stored-event publication resumed");
    }
}
