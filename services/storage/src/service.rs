use crate::StorageConfig;
use crate::sequencer::{Begin, Sequencer, wait_outcome};
use async_trait::async_trait;
use parley_core::services::StorageApi;
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{EventBus, TimelineStore};
use parley_proto::v1 as pb;
use std::sync::Arc;

/// The storage service over a timeline store and an event bus.
pub struct StorageService {
    pub(crate) store: Arc<dyn TimelineStore>,
    pub(crate) config: StorageConfig,
    pub(crate) sequencer: Arc<Sequencer>,
}

impl StorageService {
    pub fn new(
        store: Arc<dyn TimelineStore>,
        bus: Arc<dyn EventBus>,
        config: StorageConfig,
    ) -> Self {
        let sequencer = Arc::new(Sequencer::new(store.clone(), bus, config.seq_lease_size));
        Self {
            store,
            config,
            sequencer,
        }
    }

    /// Refuses a conversation another instance owns (see `shard_index`).
    pub(crate) fn check_owner(&self, conv: &str) -> ServiceResult<()> {
        let Some(me) = self.config.shard_index else {
            return Ok(());
        };
        let owner = parley_core::routing::owner_of(conv, self.config.shard_count);
        if owner == me {
            return Ok(());
        }
        tracing::error!(conversation = %conv, owner, me, "misrouted request: the shard maps of callers and storage disagree");
        Err(ServiceError::Internal(format!(
            "conversation {conv} belongs to storage instance {owner}, not {me}: check cluster.storage_urls everywhere"
        )))
    }

    /// Waits (at most `deadline`) until every stored event reached the bus:
    /// the last step of a graceful shutdown.
    pub async fn flush_publications(&self, deadline: std::time::Duration) -> bool {
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
                let settled = tokio::spawn(tracing::Instrument::in_current_span(async move {
                    let written = store
                        .append(std::slice::from_ref(&event))
                        .await
                        .map_err(Into::into);
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
            Begin::Duplicate(seq) => Ok((self.stored_event(conv, seq).await?, true)),
            Begin::Wait(rx) => Ok((wait_outcome(rx).await?, true)),
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
                parley_core::ServiceError::Internal(format!(
                    "dedup points at missing seq {seq} of {conv}"
                ))
            })
    }
}

#[async_trait]
impl StorageApi for StorageService {
    async fn create_conversation(
        &self,
        req: pb::CreateConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        self.do_create_conversation(req).await
    }

    async fn get_conversation(
        &self,
        req: pb::ConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        self.check_owner(&req.conversation_id)?;
        self.do_get_conversation(req).await
    }

    async fn add_members(&self, req: pb::AddMembersRequest) -> ServiceResult<pb::AppendReply> {
        self.check_owner(&req.conversation_id)?;
        self.do_add_members(req).await
    }

    async fn remove_member(&self, req: pb::RemoveMemberRequest) -> ServiceResult<pb::AppendReply> {
        self.check_owner(&req.conversation_id)?;
        self.do_remove_member(req).await
    }

    async fn append(&self, req: pb::AppendRequest) -> ServiceResult<pb::AppendReply> {
        if let Some(send) = &req.send {
            self.check_owner(&send.conversation_id)?;
        }
        self.do_append(req).await
    }

    async fn history(&self, req: pb::UserHistoryRequest) -> ServiceResult<pb::HistoryReply> {
        if let Some(h) = &req.request {
            self.check_owner(&h.conversation_id)?;
        }
        self.do_history(req).await
    }

    async fn sync(&self, req: pb::UserRequest) -> ServiceResult<pb::SyncReply> {
        self.do_sync(req).await
    }

    async fn mark_read(&self, req: pb::MarkReadRequest) -> ServiceResult<pb::ReadState> {
        self.check_owner(&req.conversation_id)?;
        self.do_mark_read(req).await
    }

    async fn check_member(&self, req: pb::ConversationRequest) -> ServiceResult<pb::Member> {
        self.check_owner(&req.conversation_id)?;
        crate::access::require_member(&*self.store, &req.conversation_id, &req.acting_user_id).await
    }

    async fn list_members(&self, req: pb::ConversationRequest) -> ServiceResult<pb::MembersReply> {
        self.check_owner(&req.conversation_id)?;
        self.do_list_members(req).await
    }

    async fn contacts(&self, req: pb::UserRequest) -> ServiceResult<pb::ContactsReply> {
        self.do_contacts(req).await
    }
}
