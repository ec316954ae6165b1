//! The users with connections on this gateway. Deliveries arrive on the
//! gateway's own subject (fanout routes them here by presence, one message
//! for all recipients connected here) and, for pushes addressed to a user
//! wherever they are (closing a revoked session; recipients whose gateway
//! presence does not know), on the user's subject: a user's first
//! connection subscribes to it, their last one unsubscribes.

use crate::revocations::Revocations;
use crate::ws::{CloseReason, ConnHandle};
use parking_lot::RwLock;
use parley_ports::{DeliverySink, EncodedFrame, EventBus, Push, Subscription};
use parley_proto::v1 as pb;
use std::collections::HashMap;
use std::sync::Arc;

struct Connections {
    by_user: RwLock<HashMap<String, Vec<Arc<ConnHandle>>>>,
    /// Revoked sessions, whose tokens this gateway then refuses.
    revoked: Arc<Revocations>,
}

impl DeliverySink for Connections {
    fn deliver(&self, user: &str, push: &Push) {
        let _span = tracing::info_span!("deliver", user).entered();
        crate::revocations::note_push(&self.revoked, push);
        let by_user = self.by_user.read();
        let Some(conns) = by_user.get(user) else {
            return;
        };
        match push {
            Push::Frame(frame) => {
                for c in conns {
                    c.push_shared(frame.bytes(c.encoding));
                }
            }
            Push::CloseSession { session_id } => {
                for c in conns.iter().filter(|c| c.session_id == *session_id) {
                    c.close(CloseReason::Revoked);
                }
            }
        }
    }
}

pub(crate) struct Registry {
    bus: Arc<dyn EventBus>,
    conns: Arc<Connections>,
    /// This gateway's id: its bus subject and what presence records.
    gateway_id: String,
    _routed: Subscription,
    /// Serialises (un)subscribing; deliveries only take `conns`' read lock.
    subs: tokio::sync::Mutex<HashMap<String, Subscription>>,
    max_per_user: usize,
}

#[derive(Debug)]
pub(crate) struct TooManyConnections;

impl Registry {
    /// Sends a frame to every connection of `user`, on any gateway.
    pub(crate) async fn push_to_user(
        &self,
        user: &str,
        frame: pb::ServerFrame,
    ) -> Result<(), parley_ports::BusError> {
        let push = Push::Frame(EncodedFrame::new(frame));
        self.bus.deliver(&[user.to_string()], push).await
    }

    /// Subscribes to this gateway's routed deliveries under a fresh id.
    pub(crate) async fn start(
        bus: Arc<dyn EventBus>,
        max_per_user: usize,
        revoked: Arc<Revocations>,
    ) -> Result<Self, parley_ports::BusError> {
        let conns = Arc::new(Connections {
            by_user: Default::default(),
            revoked,
        });
        let gateway_id = uuid::Uuid::new_v4().simple().to_string();
        let routed = bus.subscribe_gateway(&gateway_id, conns.clone()).await?;
        Ok(Self {
            bus,
            conns,
            gateway_id,
            _routed: routed,
            subs: Default::default(),
            max_per_user,
        })
    }

    pub(crate) fn gateway_id(&self) -> &str {
        &self.gateway_id
    }

    pub(crate) async fn add(&self, conn: Arc<ConnHandle>) -> Result<(), TooManyConnections> {
        let mut subs = self.subs.lock().await;
        let count = self
            .conns
            .by_user
            .read()
            .get(&conn.user_id)
            .map_or(0, Vec::len);
        if count >= self.max_per_user {
            return Err(TooManyConnections);
        }
        if !subs.contains_key(&conn.user_id) {
            match self
                .bus
                .subscribe_user(&conn.user_id, self.conns.clone())
                .await
            {
                Ok(s) => {
                    subs.insert(conn.user_id.clone(), s);
                }
                // Without a subscription the connection still works; it
                // catches up by sync.
                Err(e) => tracing::warn!(error = %e, "bus subscription failed"),
            }
        }
        self.conns
            .by_user
            .write()
            .entry(conn.user_id.clone())
            .or_default()
            .push(conn);
        Ok(())
    }

    pub(crate) async fn remove(&self, conn: &Arc<ConnHandle>) {
        let mut subs = self.subs.lock().await;
        let last = {
            let mut by_user = self.conns.by_user.write();
            let Some(list) = by_user.get_mut(&conn.user_id) else {
                return;
            };
            list.retain(|c| !Arc::ptr_eq(c, conn));
            let last = list.is_empty();
            if last {
                by_user.remove(&conn.user_id);
            }
            last
        };
        // Unsubscribing takes the bus's lock, which a delivery holds while it
        // waits for ours: drop the subscription only after releasing ours.
        if last {
            drop(subs.remove(&conn.user_id));
        }
    }

    /// Closes this gateway's sockets of a revoked session.
    pub(crate) fn close_session(&self, user: &str, session_id: &str) {
        let push = Push::CloseSession {
            session_id: session_id.to_string(),
        };
        self.conns.deliver(user, &push);
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.conns.by_user.read().values().map(Vec::len).sum()
    }
}
