//! The in-process event bus: user deliveries call subscribed sinks
//! directly; each consumer group of the stored-event stream is a bounded
//! MPMC queue whose members compete for events.

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use parley_ports::{
    BusError, BusResult, DeliverySink, EventBus, Push, StoredConsumer, StoredDelivery, Subscription,
};
use parley_proto::v1 as pb;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Stored events a group may have queued before publishers wait: the
/// backpressure that keeps a slow fanout from growing memory without bound.
const GROUP_QUEUE: usize = 65_536;

type Sinks = HashMap<String, Vec<(u64, Arc<dyn DeliverySink>)>>;
/// Both ends of one consumer group's queue.
/// A stored event with the trace context of the send that stored it.
type Stored = (pb::Event, parley_core::trace::TraceHeaders);
type GroupQueue = (
    async_channel::Sender<Stored>,
    async_channel::Receiver<Stored>,
);

#[derive(Default)]
struct Shared {
    users: RwLock<Sinks>,
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
    user: String,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let mut users = self.shared.users.write();
        if let Some(list) = users.get_mut(&self.user) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                users.remove(&self.user);
            }
        }
    }
}

struct GroupConsumer(async_channel::Receiver<Stored>);

#[async_trait]
impl StoredConsumer for GroupConsumer {
    async fn next(&mut self) -> Option<StoredDelivery> {
        // In-process there is nothing to redeliver after a crash, so the ack
        // has nothing to do.
        self.0
            .recv()
            .await
            .ok()
            .map(|(e, trace)| StoredDelivery::new(e, || {}).with_trace(trace))
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

    async fn subscribe_user(
        &self,
        user: &str,
        sink: Arc<dyn DeliverySink>,
    ) -> BusResult<Subscription> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        self.shared
            .users
            .write()
            .entry(user.to_string())
            .or_default()
            .push((id, sink));
        Ok(Subscription::new(Unsubscribe {
            shared: self.shared.clone(),
            user: user.to_string(),
            id,
        }))
    }

    async fn publish_stored(&self, event: &pb::Event) -> BusResult<()> {
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
            tx.send((event.clone(), parley_core::trace::current_headers()))
                .await
                .map_err(|_| BusError::Closed)?;
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
