//! Outbound bytes are bounded per connection and per gateway. Every queued
//! frame holds permits for its size from both budgets until the writer has
//! flushed it to the socket (or the queue is dropped with the connection),
//! so the accounting cannot drift: what is charged is exactly what is held.
//!
//! A push (an event, a typing signal) that does not fit cuts its
//! connection with "resync": that client is not reading, and it will catch
//! up by sync. A reply waits for room instead (the client asked for it,
//! and while it waits its next request is not read), up to a deadline.

use axum::extract::ws::Message;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Charged per frame on top of its payload: the queue slot and the
/// message's own allocation.
const FRAME_OVERHEAD: usize = 64;

/// A connection holding more than this while the gateway is under
/// pressure is a slow consumer: it is cut so that the readers that keep up
/// (which hold a few frames at most) never find the gateway budget empty.
const BACKLOG_UNDER_PRESSURE: usize = 256 * 1024;

/// The gateway-wide budget, shared by every connection.
#[derive(Clone)]
pub(crate) struct GatewayBudget {
    permits: Arc<Semaphore>,
    bytes: usize,
}

impl GatewayBudget {
    pub(crate) fn new(bytes: usize) -> Self {
        let bytes = bytes.min(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(bytes)),
            bytes,
        }
    }

    /// Bytes queued on all connections now.
    pub(crate) fn in_use(&self) -> usize {
        self.bytes - self.permits.available_permits()
    }

    /// Three quarters used: the last quarter is kept for connections that
    /// read what they are sent.
    fn under_pressure(&self) -> bool {
        self.in_use() > self.bytes / 4 * 3
    }
}

/// One connection's budget, charged together with the gateway's.
pub(crate) struct ConnBudget {
    conn: Arc<Semaphore>,
    bytes: usize,
    gateway: GatewayBudget,
}

/// What a queued frame holds; dropping it returns its bytes to both
/// budgets.
pub(crate) struct Charge {
    conn: OwnedSemaphorePermit,
    gateway: OwnedSemaphorePermit,
}

impl Charge {
    /// Holds `other`'s bytes too (one charge for a whole write batch,
    /// without a list of them per flush).
    pub(crate) fn absorb(&mut self, other: Charge) {
        self.conn.merge(other.conn);
        self.gateway.merge(other.gateway);
    }
}

/// A frame in a connection's queue with the bytes it is charged.
pub(crate) struct Queued {
    pub(crate) msg: Message,
    pub(crate) charge: Charge,
}

impl Queued {
    fn new(msg: Message, conn: OwnedSemaphorePermit, gateway: OwnedSemaphorePermit) -> Self {
        Self {
            msg,
            charge: Charge { conn, gateway },
        }
    }
}

pub(crate) fn frame_len(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        Message::Ping(b) | Message::Pong(b) => b.len(),
        Message::Close(_) => 2,
    }
}

fn permits_for(msg: &Message) -> u32 {
    u32::try_from(frame_len(msg) + FRAME_OVERHEAD).unwrap_or(u32::MAX)
}

impl ConnBudget {
    pub(crate) fn new(bytes: usize, gateway: GatewayBudget) -> Self {
        let bytes = bytes.min(Semaphore::MAX_PERMITS);
        Self {
            conn: Arc::new(Semaphore::new(bytes)),
            bytes,
            gateway,
        }
    }

    /// Bytes this connection has queued and not yet flushed.
    pub(crate) fn held(&self) -> usize {
        self.bytes - self.conn.available_permits()
    }

    /// Whether this connection should be cut as a slow consumer before it
    /// is charged more: its own budget is what bounds it, except when the
    /// gateway as a whole runs short, when every backlog is cut.
    pub(crate) fn backlogged(&self) -> bool {
        self.gateway.under_pressure() && self.held() > BACKLOG_UNDER_PRESSURE
    }

    /// Charges `msg` if both budgets have room now.
    pub(crate) fn try_charge(&self, msg: Message) -> Option<Queued> {
        let n = permits_for(&msg);
        let conn = self.conn.clone().try_acquire_many_owned(n).ok()?;
        let gateway = self
            .gateway
            .permits
            .clone()
            .try_acquire_many_owned(n)
            .ok()?;
        Some(Queued::new(msg, conn, gateway))
    }

    /// Charges `msg`, waiting for room (callers bound the wait).
    pub(crate) async fn charge(&self, msg: Message) -> Option<Queued> {
        let n = permits_for(&msg);
        let conn = self.conn.clone().acquire_many_owned(n).await.ok()?;
        let gateway = self
            .gateway
            .permits
            .clone()
            .acquire_many_owned(n)
            .await
            .ok()?;
        Some(Queued::new(msg, conn, gateway))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Message {
        Message::Text("x".repeat(n).into())
    }

    #[test]
    fn charges_are_returned_when_frames_are_dropped() {
        let gw = GatewayBudget::new(10_000);
        let a = ConnBudget::new(1_000, gw.clone());
        let b = ConnBudget::new(1_000, gw.clone());
        let q1 = a.try_charge(text(500)).unwrap();
        assert_eq!(gw.in_use(), 500 + FRAME_OVERHEAD);
        // The connection's own budget is full; another one still has room.
        assert!(a.try_charge(text(500)).is_none());
        assert_eq!(
            gw.in_use(),
            500 + FRAME_OVERHEAD,
            "a refused charge holds nothing"
        );
        let q2 = b.try_charge(text(500)).unwrap();
        drop((q1, q2));
        assert_eq!(gw.in_use(), 0);
    }

    #[test]
    fn the_gateway_budget_bounds_all_connections() {
        let gw = GatewayBudget::new(1_000);
        let conns: Vec<ConnBudget> = (0..4).map(|_| ConnBudget::new(1_000, gw.clone())).collect();
        let held: Vec<Queued> = conns
            .iter()
            .filter_map(|c| c.try_charge(text(300)))
            .collect();
        assert_eq!(held.len(), 2, "two frames of 364 bytes fit in 1000");
        assert!(gw.in_use() <= 1_000);
    }

    #[test]
    fn backlogs_are_cut_only_when_the_gateway_runs_short() {
        let gw = GatewayBudget::new(4 * BACKLOG_UNDER_PRESSURE);
        let sink = ConnBudget::new(4 * BACKLOG_UNDER_PRESSURE, gw.clone());
        let reader = ConnBudget::new(4 * BACKLOG_UNDER_PRESSURE, gw.clone());
        let mut held = vec![sink.try_charge(text(BACKLOG_UNDER_PRESSURE)).unwrap()];
        assert!(!sink.backlogged(), "the gateway has room");
        held.push(sink.try_charge(text(BACKLOG_UNDER_PRESSURE)).unwrap());
        held.push(sink.try_charge(text(BACKLOG_UNDER_PRESSURE)).unwrap());
        assert!(sink.backlogged());
        let _one = reader.try_charge(text(1024)).unwrap();
        assert!(!reader.backlogged(), "a reader holding little is not cut");
        drop(held);
        assert!(!sink.backlogged());
    }

    #[test]
    fn an_absorbed_charge_is_held_until_the_batch_is_dropped() {
        let gw = GatewayBudget::new(10_000);
        let c = ConnBudget::new(10_000, gw.clone());
        let mut batch = c.try_charge(text(100)).unwrap().charge;
        batch.absorb(c.try_charge(text(200)).unwrap().charge);
        assert_eq!(gw.in_use(), 300 + 2 * FRAME_OVERHEAD);
        assert_eq!(c.held(), 300 + 2 * FRAME_OVERHEAD);
        drop(batch);
        assert_eq!((gw.in_use(), c.held()), (0, 0));
    }

    #[tokio::test]
    async fn a_waiting_charge_goes_through_once_room_is_made() {
        let gw = GatewayBudget::new(10_000);
        let c = Arc::new(ConnBudget::new(1_000, gw.clone()));
        let first = c.try_charge(text(800)).unwrap();
        let c2 = c.clone();
        let waiting = tokio::spawn(async move { c2.charge(text(800)).await.map(|_| ()) });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        assert!(waiting.await.unwrap().is_some());
    }
}
