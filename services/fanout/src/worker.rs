use crate::FanoutService;
use parley_ports::{StoredConsumer, StoredDelivery};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events of different conversations handled at once by one worker. Each
/// event costs a member lookup and a presence lookup (round trips in split
/// mode): one at a time, a worker's rate was bounded by that latency, not
/// by CPU.
pub const LANES: usize = 16;

/// Events queued per lane before the worker stops taking new ones.
const LANE_QUEUE: usize = 64;

/// Consumes the stored-event stream until `shutdown`. The caller joins the
/// consumer group first (`EventBus::consume_stored(FANOUT_GROUP)`), so no
/// event stored after startup is missed. Events are acked after their
/// deliveries were handed to the bus; a failure leaves the event unacked
/// for redelivery by durable buses (clients sync regardless).
///
/// Events are spread over [`LANES`] lanes by conversation: lanes run
/// concurrently, each in arrival order, so one conversation's events are
/// still delivered in seq order. When the stream ends, queued events are
/// still delivered; on `shutdown`, lanes stop after their current event.
pub async fn run_stored_worker(
    fanout: Arc<FanoutService>,
    mut consumer: Box<dyn StoredConsumer>,
    shutdown: CancellationToken,
) {
    let mut lanes = Vec::with_capacity(LANES);
    let mut tasks = Vec::with_capacity(LANES);
    for _ in 0..LANES {
        let (tx, rx) = mpsc::channel(LANE_QUEUE);
        lanes.push(tx);
        tasks.push(tokio::spawn(run_lane(fanout.clone(), rx, shutdown.clone())));
    }
    loop {
        let delivery = tokio::select! {
            _ = shutdown.cancelled() => break,
            d = consumer.next() => match d {
                Some(d) => d,
                None => break,
            },
        };
        let lane = parley_core::lanes::lane_of(&delivery.event.conversation_id, LANES);
        // A full lane holds the stream back (the bus keeps the rest).
        if lanes[lane].send(delivery).await.is_err() {
            break;
        }
    }
    drop(lanes);
    for t in tasks {
        let _ = t.await;
    }
}

async fn run_lane(
    fanout: Arc<FanoutService>,
    mut queue: mpsc::Receiver<StoredDelivery>,
    shutdown: CancellationToken,
) {
    loop {
        let delivery = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            d = queue.recv() => match d {
                Some(d) => d,
                None => return,
            },
        };
        deliver(&fanout, delivery).await;
    }
}

async fn deliver(fanout: &FanoutService, delivery: StoredDelivery) {
    // The trace of the send that stored this event continues here.
    let span = tracing::info_span!("fanout", conversation = %delivery.event.conversation_id, seq = delivery.event.seq);
    parley_core::trace::set_parent(&span, &delivery.trace);
    let delivered = tracing::Instrument::instrument(
        fanout.deliver_stored(&delivery.event, delivery.members),
        span,
    )
    .await;
    match delivered {
        Ok(()) => delivery.ack(),
        Err(e) => {
            metrics::counter!("parley_fanout_errors_total").increment(1);
            tracing::warn!(error = %e, conversation = %delivery.event.conversation_id, seq = delivery.event.seq, "fanout failed");
        }
    }
}
