//! The in-process event bus: user deliveries call subscribed sinks
//! directly; each consumer group of the stored-event stream is a bounded
//! MPMC queue whose members compete for events.

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use parley_ports::{
    Broadcast, BusError, BusResult, DeliverySink, EventBus, GatewayRoute, Push, StoredConsumer,
    StoredDelivery, StoredEvent, Subscription,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Stored events a group may have queued before publishers wait: the
/// backpressure that keeps a slow fanout from growing memory without bound
/// (the queue's slots are allocated up front: 16,384 of ~200 bytes).
const GROUP_QUEUE: usize = 16_384;

type Sinks = HashMap<String, Vec<(u64, Arc<dyn DeliverySink>)>>;
/// Both ends of one consumer group's queue.
type GroupQueue = (
    async_channel::Sender<StoredEvent>,
    async_channel::Receiver<StoredEvent>,
);

#[derive(Default)]
struct Shared {
    users: RwLock<Sinks>,
    /// Sinks by gateway id, for routed deliveries.
    gateways: RwLock<Sinks>,
    groups: Mutex<HashMap<String, GroupQueue>>,
    next_id: AtomicU64,
    closed: AtomicBool,
}

/// In-process bus (embedded mode).
#[derive(Clone, Default)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryBus")
    }
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }
}

struct Unsubscribe {
    shared: Arc<Shared>,
    /// A gateway's subscription (else a user's).
    gateway: bool,
    name: String,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let mut sinks = if self.gateway {
            self.shared.gateways.write()
        } else {
            self.shared.users.write()
        };
        if let Some(list) = sinks.get_mut(&self.name) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                sinks.remove(&self.name);
            }
        }
    }
}

impl MemoryBus {
    fn subscribe(&self, gateway: bool, name: &str, sink: Arc<dyn DeliverySink>) -> Subscription {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let map = if gateway {
            &self.shared.gateways
        } else {
            &self.shared.users
        };
        map.write()
            .entry(name.to_string())
            .or_default()
            .push((id, sink));
        Subscription::new(Unsubscribe {
            shared: self.shared.clone(),
            gateway,
            name: name.to_string(),
            id,
        })
    }
}

struct GroupConsumer(async_channel::Receiver<StoredEvent>);

#[async_trait]
impl StoredConsumer for GroupConsumer {
    async fn next(&mut self) -> Option<StoredDelivery> {
        // In-process there is nothing to redeliver after a crash, so the ack
        // has nothing to do.
        self.0
            .recv()
            .await
            .ok()
            .map(|stored| StoredDelivery::new(stored, || {}))
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn deliver(&self, users: &[String], push: Push) -> BusResult<()> {
        let sinks = self.shared.users.read();
        for user in users {
            if let Some(list) = sinks.get(user) {
                for (_, sink) in list {
                    sink.deliver(user, &push);
                }
            }
        }
        Ok(())
    }

    async fn deliver_routed(&self, routes: &[GatewayRoute], push: Push) -> BusResult<()> {
        let sinks = self.shared.gateways.read();
        for route in routes {
            if let Some(list) = sinks.get(&route.gateway) {
                for (_, sink) in list {
                    for user in &route.users {
                        sink.deliver(user, &push);
                    }
                }
            }
        }
        Ok(())
    }

    async fn broadcast(&self, items: &[Broadcast]) -> BusResult<()> {
        let sinks = self.shared.gateways.read();
        for (_, sink) in sinks.values().flatten() {
            for item in items {
                let span = tracing::info_span!("bus_delivery");
                parley_core::trace::set_parent(&span, &item.trace);
                let _entered = span.enter();
                for user in item.users.iter() {
                    sink.deliver(user, &item.push);
                }
            }
        }
        Ok(())
    }

    async fn subscribe_user(
        &self,
        user: &str,
        sink: Arc<dyn DeliverySink>,
    ) -> BusResult<Subscription> {
        Ok(self.subscribe(false, user, sink))
    }

    async fn subscribe_gateway(
        &self,
        gateway: &str,
        sink: Arc<dyn DeliverySink>,
    ) -> BusResult<Subscription> {
        Ok(self.subscribe(true, gateway, sink))
    }

    async fn publish_stored(&self, events: &[StoredEvent]) -> BusResult<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        let senders: Vec<_> = self
            .shared
            .groups
            .lock()
            .values()
            .map(|(tx, _)| tx.clone())
            .collect();
        for tx in senders {
            for stored in events {
                tx.send(stored.clone())
                    .await
                    .map_err(|_| BusError::Closed)?;
            }
        }
        Ok(())
    }

    async fn consume_stored(&self, group: &str) -> BusResult<Box<dyn StoredConsumer>> {
        let mut groups = self.shared.groups.lock();
        let (tx, rx) = groups
            .entry(group.to_string())
            .or_insert_with(|| async_channel::bounded(GROUP_QUEUE));
        if self.shared.closed.load(Ordering::Acquire) {
            tx.close();
        }
        Ok(Box::new(GroupConsumer(rx.clone())))
    }

    /// Ends every consumer group: their `next()` returns `None` once they
    /// drained what is queued (in-process, nothing else would deliver it).
    async fn close(&self) {
        let groups = self.shared.groups.lock();
        // Under the groups lock, so a group joined concurrently sees the flag.
        self.shared.closed.store(true, Ordering::Release);
        for (tx, _) in groups.values() {
            tx.close();
        }
    }
}
