//! Broadcasts leave fanout through one task that sends everything queued
//! meanwhile as one bus call: the events of a stored batch, and of
//! concurrent lanes, share bus messages (every gateway reads each one, so
//! fewer, fuller messages cost NATS and the gateways less), while an idle
//! fanout still sends each push at once. Pushes keep their queueing order,
//! so each conversation's events stay in seq order.

use parley_core::{ServiceError, ServiceResult};
use parley_ports::{Broadcast, EventBus};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Pushes sent in one bus call at most.
const MOST: usize = 256;
/// Pushes waiting before senders wait too.
const QUEUE: usize = 4096;

type Queued = (Broadcast, oneshot::Sender<Result<(), String>>);

pub(crate) struct Coalescer {
    queue: mpsc::Sender<Queued>,
}

impl Coalescer {
    /// Starts the sending task (it ends with the coalescer).
    pub(crate) fn spawn(bus: Arc<dyn EventBus>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(bus, rx));
        Self { queue }
    }

    /// Resolves once the push was handed to the bus.
    pub(crate) async fn send(&self, item: Broadcast) -> ServiceResult<()> {
        let (done, outcome) = oneshot::channel();
        let stopped = || ServiceError::Unavailable("fanout is stopping".into());
        self.queue.send((item, done)).await.map_err(|_| stopped())?;
        outcome
            .await
            .map_err(|_| stopped())?
            .map_err(ServiceError::Unavailable)
    }
}

async fn run(bus: Arc<dyn EventBus>, mut rx: mpsc::Receiver<Queued>) {
    let mut items = Vec::with_capacity(MOST);
    let mut waiters = Vec::with_capacity(MOST);
    while let Some((item, done)) = rx.recv().await {
        items.push(item);
        waiters.push(done);
        while items.len() < MOST {
            let Ok((item, done)) = rx.try_recv() else {
                break;
            };
            items.push(item);
            waiters.push(done);
        }
        metrics::histogram!("parley_fanout_broadcast_pushes").record(items.len() as f64);
        let sent = bus.broadcast(&items).await.map_err(|e| e.to_string());
        for done in waiters.drain(..) {
            let _ = done.send(sent.clone());
        }
        items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recorder::Recorder;

    mod recorder {
        //! A bus that records broadcast calls and can hold them up.
        use async_trait::async_trait;
        use parley_ports::*;
        use std::sync::Arc;

        pub(super) struct Recorder {
            pub(super) calls: std::sync::Mutex<Vec<Vec<i64>>>,
            pub(super) entered: std::sync::atomic::AtomicBool,
            pub(super) gate: tokio::sync::Semaphore,
        }

        impl Default for Recorder {
            fn default() -> Self {
                Self {
                    calls: Default::default(),
                    entered: Default::default(),
                    gate: tokio::sync::Semaphore::new(0),
                }
            }
        }

        fn nonce(p: &Push) -> i64 {
            match p {
                Push::Frame(f) => match &f.frame().payload {
                    Some(parley_proto::v1::server_frame::Payload::Pong(p)) => p.nonce,
                    _ => -1,
                },
                Push::CloseSession { .. } => -1,
            }
        }

        #[async_trait]
        impl EventBus for Recorder {
            async fn broadcast(&self, items: &[Broadcast]) -> BusResult<()> {
                self.entered
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                let _p = self.gate.acquire().await.unwrap();
                self.calls
                    .lock()
                    .unwrap()
                    .push(items.iter().map(|b| nonce(&b.push)).collect());
                Ok(())
            }
            async fn deliver(&self, _: &[String], _: Push) -> BusResult<()> {
                Ok(())
            }
            async fn deliver_routed(&self, _: &[GatewayRoute], _: Push) -> BusResult<()> {
                Ok(())
            }
            async fn subscribe_user(
                &self,
                _: &str,
                _: Arc<dyn DeliverySink>,
            ) -> BusResult<Subscription> {
                Ok(Subscription::new(()))
            }
            async fn subscribe_gateway(
                &self,
                _: &str,
                _: Arc<dyn DeliverySink>,
            ) -> BusResult<Subscription> {
                Ok(Subscription::new(()))
            }
            async fn publish_stored(&self, _: &[StoredEvent]) -> BusResult<()> {
                Ok(())
            }
            async fn consume_stored(&self, _: &str) -> BusResult<Box<dyn StoredConsumer>> {
                Err(BusError::Closed)
            }
            async fn close(&self) {}
        }
    }

    fn pong(n: i64) -> Broadcast {
        Broadcast {
            trace: Vec::new(),
            users: vec!["u".to_string()].into(),
            push: parley_ports::Push::Frame(parley_ports::EncodedFrame::new(
                parley_proto::v1::ServerFrame {
                    id: String::new(),
                    payload: Some(parley_proto::v1::server_frame::Payload::Pong(
                        parley_proto::v1::Pong { nonce: n },
                    )),
                },
            )),
        }
    }

    #[tokio::test]
    async fn pushes_queued_during_a_send_share_the_next_one_in_order() {
        let bus = Arc::new(Recorder::default());
        let c = Arc::new(Coalescer::spawn(bus.clone()));
        let send = |n| {
            let c = c.clone();
            tokio::spawn(async move { c.send(pong(n)).await })
        };
        // The bus is held up: the first push waits in it...
        let first = send(0);
        while !bus.entered.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        // ...while the next ones queue; then the bus opens.
        let rest: Vec<_> = (1..=5).map(send).collect();
        while c.queue.capacity() > QUEUE - 5 {
            tokio::task::yield_now().await;
        }
        bus.gate.add_permits(100);
        first.await.unwrap().unwrap();
        for r in rest {
            r.await.unwrap().unwrap();
        }
        let calls = bus.calls.lock().unwrap().clone();
        assert_eq!(calls, vec![vec![0], vec![1, 2, 3, 4, 5]]);
    }
}
