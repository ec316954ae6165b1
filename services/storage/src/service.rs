//! The storage service as callers see it: the ownership layer in front of
//! the handlers. Every method refuses a conversation another instance owns
//! (`Shard::check`, which learns the conversation from the request's
//! `Routed` impl), then runs the handler of the same name
//! (`conversations.rs`, `timeline.rs`), which authorizes the caller.

use crate::StorageConfig;
use crate::handlers::Handlers;
use crate::shard::Shard;
use async_trait::async_trait;
use parley_core::ServiceResult;
use parley_core::services::StorageApi;
use parley_ports::{EventBus, TimelineStore};
use parley_proto::v1 as pb;
use std::sync::Arc;

/// The storage service over a timeline store and an event bus.
pub struct StorageService {
    shard: Shard,
    handlers: Handlers,
    /// Stops the search indexer when the service is dropped; its task, to
    /// stop and wait for at a graceful shutdown (`stop_indexing`).
    _indexing: Option<tokio_util::sync::DropGuard>,
    indexer_task: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl StorageService {
    pub fn new(
        store: Arc<dyn TimelineStore>,
        bus: Arc<dyn EventBus>,
        config: StorageConfig,
    ) -> Self {
        let shard = Shard::new(&config);
        Self {
            shard,
            handlers: Handlers::new(store, bus, config, shard),
            _indexing: None,
            indexer_task: parking_lot::Mutex::new(None),
        }
    }

    /// Turns full-text search on: the index follows every commit from now
    /// on, catching up first on what its marks say is missing. Call from
    /// within a Tokio runtime (the indexer is a task).
    pub fn with_search(mut self, index: Arc<parley_search::SearchIndex>) -> Self {
        let (indexer, guard, task) =
            crate::search::Indexer::start(index, self.handlers.store.clone());
        self.handlers.search = Some(indexer);
        self._indexing = Some(guard);
        *self.indexer_task.lock() = Some(task);
        self
    }

    /// Stops the search indexer and waits until it let go of the store (a
    /// graceful shutdown's last step: the store can then be reopened).
    pub async fn stop_indexing(&self) {
        let task = self.indexer_task.lock().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Waits (at most `deadline`) until every stored event reached the bus:
    /// the last step of a graceful shutdown.
    pub async fn flush_publications(&self, deadline: std::time::Duration) -> bool {
        self.handlers.flush_publications(deadline).await
    }
}

#[async_trait]
impl StorageApi for StorageService {
    async fn create_conversation(
        &self,
        req: pb::CreateConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        self.shard.check(&req)?;
        self.handlers.create_conversation(req).await
    }

    async fn get_conversation(
        &self,
        req: pb::ConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        self.shard.check(&req)?;
        self.handlers.get_conversation(req).await
    }

    async fn add_members(&self, req: pb::AddMembersRequest) -> ServiceResult<pb::AppendReply> {
        self.shard.check(&req)?;
        self.handlers.add_members(req).await
    }

    async fn remove_member(&self, req: pb::RemoveMemberRequest) -> ServiceResult<pb::AppendReply> {
        self.shard.check(&req)?;
        self.handlers.remove_member(req).await
    }

    async fn append(&self, req: pb::AppendRequest) -> ServiceResult<pb::AppendReply> {
        self.shard.check(&req)?;
        self.handlers.append(req).await
    }

    async fn history(&self, req: pb::UserHistoryRequest) -> ServiceResult<pb::HistoryReply> {
        self.shard.check(&req)?;
        self.handlers.history(req).await
    }

    async fn sync(&self, req: pb::SyncPageRequest) -> ServiceResult<pb::SyncReply> {
        self.shard.check(&req)?;
        self.handlers.sync(req).await
    }

    async fn mark_read(&self, req: pb::MarkReadRequest) -> ServiceResult<pb::ReadState> {
        self.shard.check(&req)?;
        self.handlers.mark_read(req).await
    }

    async fn list_members(&self, req: pb::MembersRequest) -> ServiceResult<pb::MembersPage> {
        self.shard.check(&req)?;
        self.handlers.list_members(req).await
    }

    async fn contacts(&self, req: pb::CallerRequest) -> ServiceResult<pb::ContactsReply> {
        self.shard.check(&req)?;
        self.handlers.contacts(req).await
    }

    async fn member_ids(&self, req: pb::MembersRequest) -> ServiceResult<pb::MemberIdsReply> {
        self.shard.check(&req)?;
        self.handlers.member_ids(req).await
    }

    async fn update_settings(&self, req: pb::SettingsRequest) -> ServiceResult<pb::SettingsReply> {
        self.shard.check(&req)?;
        self.handlers.update_settings(req).await
    }

    async fn block(&self, req: pb::BlockRequest) -> ServiceResult<pb::Empty> {
        self.shard.check(&req)?;
        self.handlers.block(req).await
    }

    async fn list_blocked(&self, req: pb::CallerRequest) -> ServiceResult<pb::BlockedReply> {
        self.shard.check(&req)?;
        self.handlers.list_blocked(req).await
    }

    async fn relations(&self, req: pb::RelationsRequest) -> ServiceResult<pb::RelationsReply> {
        // Each pair's owner answers for it: the router splits the request.
        for u in &req.user_ids {
            self.shard.check(&pb::BlockRequest {
                caller: req.caller.clone(),
                user_id: u.clone(),
                unblock: false,
            })?;
        }
        self.handlers.relations(req).await
    }

    async fn invitations(&self, req: pb::CallerRequest) -> ServiceResult<pb::InvitationsReply> {
        self.shard.check(&req)?;
        self.handlers.invitations(req).await
    }

    async fn respond(&self, req: pb::RespondRequest) -> ServiceResult<pb::RespondReply> {
        self.shard.check(&req)?;
        self.handlers.respond(req).await
    }

    async fn message(&self, req: pb::MessageRequest) -> ServiceResult<pb::Event> {
        self.shard.check(&req)?;
        self.handlers.message(req).await
    }

    async fn search(&self, req: pb::UserSearchRequest) -> ServiceResult<pb::SearchReply> {
        self.shard.check(&req)?;
        self.handlers.search(req).await
    }
}
