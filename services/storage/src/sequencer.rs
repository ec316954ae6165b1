//! Per-conversation seq assignment on the owning storage instance.
//!
//! Rules (design.md section 2):
//! - seqs come from blocks leased by compare-and-set in the durable store,
//!   so two instances can never hand out the same seq;
//! - a (conversation, sender, client_msg_id) maps to one seq: a retry,
//!   even one racing the first attempt, gets the original;
//! - stored events are published in seq order, and the "stable head" (the
//!   highest seq below which every seq is settled: written or never to
//!   exist) bounds what history reports, so a skipped seq really is a hole.

use crate::member_versions::MemberVersions;
use crate::publisher::Publisher;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{EventBus, StoredEvent, TimelineStore};
use parley_proto::v1 as pb;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::{Mutex, watch};

type Outcome = Option<ServiceResult<pb::Event>>;

#[derive(Default)]
struct ConvState {
    /// Unused part of the current lease.
    next: u64,
    end: u64,
    /// Seqs handed out whose write has not been published yet: `None`
    /// while the write is pending, `Some` once durable.
    inflight: BTreeMap<u64, Option<pb::Event>>,
    /// In-flight sends by (sender, client_msg_id), for racing retries.
    pending_keys: HashMap<(String, String), watch::Receiver<Outcome>>,
}

/// What `begin` decided for one send.
pub(crate) enum Begin {
    /// A new seq: write `event` with it, then call `finish`.
    New(pb::Event, watch::Sender<Outcome>),
    /// A retry of a send that already has a durable seq.
    Duplicate(u64),
    /// A retry racing an in-flight first attempt: await its outcome.
    Wait(watch::Receiver<Outcome>),
}

pub(crate) struct Sequencer {
    store: Arc<dyn TimelineStore>,
    publisher: Publisher,
    /// Stamped on each published event (see `member_versions`).
    pub(crate) members: MemberVersions,
    lease_size: u64,
    convs: parking_lot::Mutex<HashMap<String, Arc<Mutex<ConvState>>>>,
}

impl Sequencer {
    pub(crate) fn new(
        store: Arc<dyn TimelineStore>,
        bus: Arc<dyn EventBus>,
        lease_size: u64,
    ) -> Self {
        Self {
            store,
            publisher: Publisher::spawn(bus),
            members: MemberVersions::new(),
            lease_size: lease_size.max(1),
            convs: Default::default(),
        }
    }

    fn state(&self, conv: &str) -> Arc<Mutex<ConvState>> {
        self.convs
            .lock()
            .entry(conv.to_string())
            .or_default()
            .clone()
    }

    /// Dedup check and seq assignment for `event` (its seq is filled in).
    pub(crate) async fn begin(&self, mut event: pb::Event) -> ServiceResult<Begin> {
        let state = self.state(&event.conversation_id);
        let mut st = state.lock().await;
        let key = (event.sender_id.clone(), event.client_msg_id.clone());
        if !event.client_msg_id.is_empty() {
            if let Some(rx) = st.pending_keys.get(&key) {
                return Ok(Begin::Wait(rx.clone()));
            }
            if let Some(seq) = self
                .store
                .dedup_lookup(
                    &event.conversation_id,
                    &event.sender_id,
                    &event.client_msg_id,
                )
                .await?
            {
                return Ok(Begin::Duplicate(seq));
            }
        }
        if st.next >= st.end {
            let lease = self
                .store
                .lease_seqs(&event.conversation_id, self.lease_size)
                .await?;
            st.next = lease.start;
            st.end = lease.end;
        }
        event.seq = st.next;
        st.next += 1;
        st.inflight.insert(event.seq, None);
        let (tx, rx) = watch::channel(None);
        if !event.client_msg_id.is_empty() {
            st.pending_keys.insert(key, rx);
        }
        Ok(Begin::New(event, tx))
    }

    /// Records the outcome of the durable write of `event` and publishes
    /// every stored event that is now next in seq order.
    pub(crate) async fn finish(
        &self,
        event: &pb::Event,
        written: &ServiceResult<()>,
        done: watch::Sender<Outcome>,
    ) {
        let state = self.state(&event.conversation_id);
        let mut st = state.lock().await;
        match written {
            Ok(()) => {
                st.inflight.insert(event.seq, Some(event.clone()));
            }
            // A failed write leaves a hole; the seq is never handed out again.
            Err(_) => {
                st.inflight.remove(&event.seq);
            }
        }
        st.pending_keys
            .remove(&(event.sender_id.clone(), event.client_msg_id.clone()));
        let _ = done.send(Some(written.clone().map(|()| event.clone())));
        while let Some(entry) = st.inflight.first_entry() {
            if entry.get().is_none() {
                break;
            }
            let stored = entry.remove().expect("checked above");
            let members = Some(self.members.current(&stored.conversation_id));
            self.publisher.enqueue(StoredEvent {
                event: stored,
                members,
                trace: Vec::new(),
            });
        }
    }

    /// Stored events not yet handed to the bus.
    pub(crate) fn unpublished(&self) -> usize {
        self.publisher.pending()
    }

    /// The highest seq below which every seq is settled.
    pub(crate) async fn stable_head(&self, conv: &str) -> ServiceResult<u64> {
        let head = self.store.head(conv).await?;
        let state = self.convs.lock().get(conv).cloned();
        if let Some(state) = state {
            let st = state.lock().await;
            if let Some((&first, _)) = st.inflight.first_key_value() {
                return Ok(head.min(first - 1));
            }
        }
        Ok(head)
    }
}

/// Waits for the outcome of a racing first attempt.
pub(crate) async fn wait_outcome(mut rx: watch::Receiver<Outcome>) -> ServiceResult<pb::Event> {
    loop {
        if let Some(outcome) = rx.borrow_and_update().clone() {
            return outcome;
        }
        rx.changed()
            .await
            .map_err(|_| ServiceError::Unavailable("send was interrupted; retry".into()))?;
    }
}
