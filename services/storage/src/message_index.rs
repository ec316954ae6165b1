//! What happened to each message since it was sent: its latest edit, or
//! its deletion (`RecordKind::MessageState`, one record per changed
//! message). It answers "this message as it reads now" without scanning
//! the timeline for later edits and deletes: forwarding a message, and
//! refusing to react to, pin, edit, reply to or forward a deleted one.
//!
//! A delete is recorded before its event is committed: if the commit then
//! fails the message is treated as deleted a little early, never served as
//! live after its delete. An edit is recorded after its commit (a crash in
//! between serves the previous text).

use crate::access::{require_member, user_caller};
use crate::handlers::Handlers;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{ReadRange, RecordKey, RecordKind, RecordWrite};
use parley_proto::v1 as pb;
use prost::Message;

fn key(conv: &str, seq: u64) -> RecordKey {
    RecordKey::new(RecordKind::MessageState, conv, &format!("{seq:020}"))
}

impl Handlers {
    pub(crate) async fn message_state(
        &self,
        conv: &str,
        seq: u64,
    ) -> ServiceResult<pb::MessageState> {
        match self.store.record(&key(conv, seq)).await? {
            Some(bytes) => pb::MessageState::decode(bytes.as_slice())
                .map_err(|e| ServiceError::Internal(format!("message state: {e}"))),
            None => Ok(pb::MessageState::default()),
        }
    }

    async fn put_state(&self, conv: &str, seq: u64, state: &pb::MessageState) -> ServiceResult<()> {
        Ok(self
            .store
            .write_records(vec![RecordWrite::Put(
                key(conv, seq),
                state.encode_to_vec(),
            )])
            .await?)
    }

    /// Before a delete of `target` is committed.
    pub(crate) async fn record_delete(&self, conv: &str, target: u64) -> ServiceResult<()> {
        let mut state = self.message_state(conv, target).await?;
        if !state.deleted {
            state.deleted = true;
            self.put_state(conv, target, &state).await?;
        }
        Ok(())
    }

    /// After the edit at `edit_seq` of `target` was committed.
    pub(crate) async fn record_edit(
        &self,
        conv: &str,
        target: u64,
        edit_seq: u64,
    ) -> ServiceResult<()> {
        let mut state = self.message_state(conv, target).await?;
        if !state.edit_seqs.contains(&edit_seq) {
            state.edit_seqs.push(edit_seq);
            state.edit_seq = state.edit_seq.max(edit_seq);
            self.put_state(conv, target, &state).await?;
        }
        Ok(())
    }

    /// After the delete at `delete_seq` of `target` was committed: the
    /// message's content and every edit's is removed from the store (the
    /// rows stay, as `redacted`, so seqs stay dense and history shows the
    /// message as deleted). Repeating it is harmless: a retried delete
    /// redacts again, which is how a crash between commit and this step is
    /// made good.
    pub(crate) async fn redact_deleted(
        &self,
        conv: &str,
        target: u64,
        delete_seq: u64,
    ) -> ServiceResult<()> {
        let state = self.message_state(conv, target).await?;
        let mut seqs = vec![target];
        seqs.extend(&state.edit_seqs);
        if state.edit_seq != 0 && !seqs.contains(&state.edit_seq) {
            seqs.push(state.edit_seq);
        }
        let mut tombstones = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let Some(event) = self.read_event(conv, seq).await? else {
                continue;
            };
            if matches!(event.body, Some(pb::event::Body::Redacted(_))) {
                continue;
            }
            let (edit, thread_root_seq) = match &event.body {
                Some(pb::event::Body::Message(m)) => (false, m.thread_root_seq),
                _ => (true, 0),
            };
            tombstones.push(pb::Event {
                body: Some(pb::event::Body::Redacted(pb::Redacted {
                    delete_seq,
                    edit,
                    thread_root_seq,
                })),
                ..event
            });
        }
        if !tombstones.is_empty() {
            self.store.redact(&tombstones).await?;
            metrics::counter!("parley_storage_redacted_events_total")
                .increment(tombstones.len() as u64);
        }
        Ok(())
    }

    /// The event at `seq` as stored, if any.
    pub(crate) async fn read_event(
        &self,
        conv: &str,
        seq: u64,
    ) -> ServiceResult<Option<pb::Event>> {
        let range = ReadRange {
            from: seq,
            to: seq,
            limit: 1,
            backward: false,
        };
        Ok(self.store.read_range(conv, range).await?.pop())
    }

    /// The message at `seq` as it reads now: its latest edit's text and
    /// mentions; `not_found` when deleted or not a message.
    pub(crate) async fn message(&self, req: pb::MessageRequest) -> ServiceResult<pb::Event> {
        let reader = user_caller(req.caller.as_ref())?;
        let conv = req.conversation_id.as_str();
        require_member(&*self.store, conv, &reader).await?;
        let meta = self.conversation_meta(conv).await?;
        if req.seq < self.visible_from(&meta, &reader).await? {
            return Err(ServiceError::NotFound(format!(
                "message {} of {conv}",
                req.seq
            )));
        }
        let mut event = self.target_message(conv, req.seq).await.map_err(|_| {
            ServiceError::NotFound(format!("message {} of {conv} (or it was deleted)", req.seq))
        })?;
        let state = self.message_state(conv, req.seq).await?;
        if state.edit_seq != 0
            && let Some(pb::Event {
                body: Some(pb::event::Body::Edit(edit)),
                ..
            }) = self.read_event(conv, state.edit_seq).await?
            && let Some(pb::event::Body::Message(m)) = &mut event.body
        {
            m.text = edit.text;
            m.mention_ids = edit.mention_ids;
            m.mention_all = edit.mention_all;
        }
        Ok(event)
    }
}
