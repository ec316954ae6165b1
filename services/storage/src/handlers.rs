//! What the handlers share: the store, the sequencer, the settings, and
//! the commit of one event (seq, durable write, publication).
//! The handlers themselves are in `conversations.rs` and `timeline.rs`,
//! named after the API methods they answer.

use crate::StorageConfig;
use crate::sequencer::{Begin, Sequencer, wait_outcome};
use crate::shard::Shard;
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{EventBus, TimelineStore};
use parley_proto::v1 as pb;
use std::sync::Arc;

pub(crate) struct Handlers {
    pub(crate) store: Arc<dyn TimelineStore>,
    pub(crate) config: StorageConfig,
    pub(crate) sequencer: Arc<Sequencer>,
    pub(crate) shard: Shard,
    /// The full-text indexer, when search is on.
    pub(crate) search: Option<Arc<crate::search::Indexer>>,
    /// Each conversation's last activity, for lists ordered by it.
    pub(crate) activity: crate::conversation_list::ActivityCache,
    /// Checked changes of a conversation, one at a time.
    pub(crate) changes: crate::change_locks::ChangeLocks,
}

impl Handlers {
    pub(crate) fn new(
        store: Arc<dyn TimelineStore>,
        bus: Arc<dyn EventBus>,
        config: StorageConfig,
        shard: Shard,
    ) -> Self {
        let sequencer = Arc::new(Sequencer::new(store.clone(), bus, config.seq_lease_size));
        Self {
            store,
            config,
            sequencer,
            shard,
            search: None,
            activity: Default::default(),
            changes: Default::default(),
        }
    }

    pub(crate) async fn flush_publications(&self, deadline: std::time::Duration) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        while self.sequencer.unpublished() > 0 {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        true
    }

    /// Assigns a seq to `body` and writes it durably; returns the stored
    /// event and whether it was a retry of an earlier send.
    pub(crate) async fn commit(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
        body: pb::event::Body,
    ) -> ServiceResult<(pb::Event, bool)> {
        // What a retry must match: a clientMsgId reused for another body is
        // a client bug that acking as a duplicate would hide (the new text
        // silently dropped), as payment APIs refuse a reused idempotency key.
        let asked = Some(body.clone());
        let event = pb::Event {
            conversation_id: conv.to_string(),
            seq: 0,
            sender_id: sender.to_string(),
            client_msg_id: client_msg_id.to_string(),
            sent_at_ms: now_ms(),
            body: Some(body),
        };
        let started = std::time::Instant::now();
        match self.sequencer.begin(event).await? {
            Begin::New(event, done) => {
                metrics::histogram!("parley_storage_sequence_seconds")
                    .record(started.elapsed().as_secs_f64());
                // From here the seq must be settled (written or a hole) and
                // racing retries answered even if our caller goes away (a
                // gateway dies mid-request and the RPC is dropped): the
                // write and its bookkeeping run in their own task.
                let (store, sequencer) = (self.store.clone(), self.sequencer.clone());
                let search = self.search.clone();
                let settled = tokio::spawn(tracing::Instrument::in_current_span(async move {
                    let written = store
                        .append(std::slice::from_ref(&event))
                        .await
                        .map_err(Into::into);
                    if written.is_ok() {
                        crate::search::Indexer::committed(search.as_ref(), &event);
                    }
                    sequencer.finish(&event, &written, done).await;
                    written.map(|()| event)
                }));
                let event = settled
                    .await
                    .map_err(|e| ServiceError::Internal(e.to_string()))??;
                metrics::counter!("parley_storage_appends_total").increment(1);
                metrics::histogram!("parley_storage_append_seconds")
                    .record(started.elapsed().as_secs_f64());
                Ok((event, false))
            }
            Begin::Duplicate(seq) => {
                let stored = self.stored_event(conv, seq).await?;
                same_body(stored, &asked).map(|e| (e, true))
            }
            Begin::Wait(rx) => same_body(wait_outcome(rx).await?, &asked).map(|e| (e, true)),
        }
    }

    async fn stored_event(&self, conv: &str, seq: u64) -> ServiceResult<pb::Event> {
        let range = parley_ports::ReadRange {
            from: seq,
            to: seq,
            limit: 1,
            backward: false,
        };
        self.store
            .read_range(conv, range)
            .await?
            .pop()
            .ok_or_else(|| {
                ServiceError::Internal(format!("dedup points at missing seq {seq} of {conv}"))
            })
    }
}

/// The stored event a retry resolved to, if it carries the body the retry
/// asked for; otherwise `already_exists`.
fn same_body(stored: pb::Event, asked: &Option<pb::event::Body>) -> ServiceResult<pb::Event> {
    if stored.body == *asked {
        Ok(stored)
    } else {
        Err(ServiceError::AlreadyExists(format!(
            "clientMsgId {:?} was already used for a different message (seq {}); use a fresh id per message",
            stored.client_msg_id, stored.seq
        )))
    }
}
