use crate::FanoutService;
use parley_ports::StoredConsumer;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Consumes the stored-event stream until `shutdown`. The caller joins the
/// consumer group first (`EventBus::consume_stored(FANOUT_GROUP)`), so no
/// event stored after startup is missed. Events are acked after their
/// deliveries were handed to the bus; a failure leaves the event unacked
/// for redelivery by durable buses (clients sync regardless).
pub async fn run_stored_worker(
    fanout: Arc<FanoutService>,
    mut consumer: Box<dyn StoredConsumer>,
    shutdown: CancellationToken,
) {
    loop {
        let delivery = tokio::select! {
            _ = shutdown.cancelled() => return,
            d = consumer.next() => match d {
                Some(d) => d,
                None => return,
            },
        };
        // The trace of the send that stored this event continues here.
        let span = tracing::info_span!("fanout", conversation = %delivery.event.conversation_id, seq = delivery.event.seq);
        parley_core::trace::set_parent(&span, &delivery.trace);
        let delivered =
            tracing::Instrument::instrument(fanout.deliver_stored(delivery.event.clone()), span)
                .await;
        match delivered {
            Ok(()) => delivery.ack(),
            Err(e) => {
                metrics::counter!("parley_fanout_errors_total").increment(1);
                tracing::warn!(error = %e, conversation = %delivery.event.conversation_id, seq = delivery.event.seq, "fanout failed");
            }
        }
    }
}
