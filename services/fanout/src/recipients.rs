//! Member lists of the conversations fanout delivers to, kept by version.
//! Each stored event names the version of its conversation's member list
//! it was stored under (issued by the storage instance that owns it); a
//! list of that version is used as it is, any other is fetched again (one
//! `member_ids` call, which answers with the version it read). A busy
//! conversation's events then cost no call to storage, and a membership
//! change is seen by the very next event, whichever fanout worker takes it.

use parley_core::services::{StorageApi, StorageClient};
use parley_core::{Caller, ServiceResult};
use parley_proto::v1 as pb;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use std::sync::Arc;

pub(crate) type Ids = Arc<[String]>;

/// Member ids held at most over all cached conversations (~40 bytes each).
const CAPACITY_MEMBERS: u64 = 500_000;
/// Conversations the cache expects to hold (sizes its tables).
const EXPECTED_CONVERSATIONS: usize = 20_000;

#[derive(Clone)]
struct ByMembers;

impl Weighter<String, (pb::MembersVersion, Ids)> for ByMembers {
    fn weight(&self, _conv: &String, entry: &(pb::MembersVersion, Ids)) -> u64 {
        entry.1.len() as u64 + 1
    }
}

pub(crate) struct Recipients {
    storage: StorageClient,
    lists: Cache<String, (pb::MembersVersion, Ids), ByMembers>,
}

impl Recipients {
    pub(crate) fn new(storage: StorageClient) -> Self {
        Self::with_capacity(storage, CAPACITY_MEMBERS)
    }

    fn with_capacity(storage: StorageClient, members: u64) -> Self {
        Self {
            storage,
            lists: Cache::with_weighter(EXPECTED_CONVERSATIONS, members, ByMembers),
        }
    }

    /// The members of `conv` as of `version` (or newer); `None`: unknown
    /// version (an event of an older storage), always fetched.
    pub(crate) async fn of_event(
        &self,
        conv: &str,
        version: Option<pb::MembersVersion>,
    ) -> ServiceResult<Ids> {
        if let Some(v) = version
            && let Some((cached, ids)) = self.lists.get(conv)
            && cached == v
        {
            metrics::counter!("parley_fanout_member_cache_total", "result" => "hit").increment(1);
            return Ok(ids);
        }
        metrics::counter!("parley_fanout_member_cache_total", "result" => "miss").increment(1);
        let reply = self.fetch(conv, Caller::System).await?;
        let ids: Ids = reply.user_ids.into();
        if let Some(v) = reply.version {
            self.lists.insert(conv.to_string(), (v, ids.clone()));
        }
        Ok(ids)
    }

    /// The members of `conv` as `caller` may see them (a user's signal is
    /// refused unless they are a member): asked every time, since a signal
    /// names no version.
    pub(crate) async fn for_signal(
        &self,
        conv: &str,
        caller: Caller,
    ) -> ServiceResult<Vec<String>> {
        Ok(self.fetch(conv, caller).await?.user_ids)
    }

    async fn fetch(&self, conv: &str, caller: Caller) -> ServiceResult<pb::MemberIdsReply> {
        self.storage
            .member_ids(pb::MembersRequest {
                conversation_id: conv.to_string(),
                caller: caller.to_proto(),
                ..Default::default()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use parley_core::ServiceError;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A storage that answers `member_ids` with a list of `n` members at
    /// version `n`, counting the calls.
    #[derive(Default)]
    struct Lists {
        n: AtomicU64,
        calls: AtomicU64,
    }

    fn version(counter: u64) -> pb::MembersVersion {
        pb::MembersVersion { epoch: 7, counter }
    }

    #[async_trait]
    impl StorageApi for Lists {
        async fn member_ids(&self, _: pb::MembersRequest) -> ServiceResult<pb::MemberIdsReply> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let n = self.n.load(Ordering::SeqCst);
            Ok(pb::MemberIdsReply {
                user_ids: (0..n).map(|i| format!("u{i}")).collect(),
                version: Some(version(n)),
            })
        }
        async fn create_conversation(
            &self,
            _: pb::CreateConversationRequest,
        ) -> ServiceResult<pb::Conversation> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn update_settings(
            &self,
            _: pb::SettingsRequest,
        ) -> ServiceResult<pb::SettingsReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn get_conversation(
            &self,
            _: pb::ConversationRequest,
        ) -> ServiceResult<pb::Conversation> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn add_members(&self, _: pb::AddMembersRequest) -> ServiceResult<pb::AppendReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn remove_member(
            &self,
            _: pb::RemoveMemberRequest,
        ) -> ServiceResult<pb::AppendReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn append(&self, _: pb::AppendRequest) -> ServiceResult<pb::AppendReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn history(&self, _: pb::UserHistoryRequest) -> ServiceResult<pb::HistoryReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn sync(&self, _: pb::SyncPageRequest) -> ServiceResult<pb::SyncReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn mark_read(&self, _: pb::MarkReadRequest) -> ServiceResult<pb::ReadState> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn list_members(&self, _: pb::MembersRequest) -> ServiceResult<pb::MembersPage> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn contacts(&self, _: pb::CallerRequest) -> ServiceResult<pb::ContactsReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn block(&self, _: pb::BlockRequest) -> ServiceResult<pb::Empty> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn list_blocked(&self, _: pb::CallerRequest) -> ServiceResult<pb::BlockedReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn relations(&self, _: pb::RelationsRequest) -> ServiceResult<pb::RelationsReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn invitations(&self, _: pb::CallerRequest) -> ServiceResult<pb::InvitationsReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn respond(&self, _: pb::RespondRequest) -> ServiceResult<pb::RespondReply> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn message(&self, _: pb::MessageRequest) -> ServiceResult<pb::Event> {
            Err(ServiceError::Internal("unused".into()))
        }
        async fn search(&self, _: pb::UserSearchRequest) -> ServiceResult<pb::SearchReply> {
            Err(ServiceError::Internal("unused".into()))
        }
    }

    #[tokio::test]
    async fn a_list_is_reused_while_events_name_its_version_and_fetched_when_they_do_not() {
        let lists = Arc::new(Lists::default());
        lists.n.store(3, Ordering::SeqCst);
        let r = Recipients::new(StorageClient::local(lists.clone()));
        assert_eq!(r.of_event("c", Some(version(3))).await.unwrap().len(), 3);
        assert_eq!(r.of_event("c", Some(version(3))).await.unwrap().len(), 3);
        assert_eq!(
            lists.calls.load(Ordering::SeqCst),
            1,
            "second event: cached"
        );
        // A member joins: the next event names the new version.
        lists.n.store(4, Ordering::SeqCst);
        assert_eq!(r.of_event("c", Some(version(4))).await.unwrap().len(), 4);
        assert_eq!(lists.calls.load(Ordering::SeqCst), 2);
        // Events without a version (older storage) always ask.
        r.of_event("c", None).await.unwrap();
        r.of_event("c", None).await.unwrap();
        assert_eq!(lists.calls.load(Ordering::SeqCst), 4);
        // Signals always ask.
        r.for_signal("c", Caller::user("u0").unwrap())
            .await
            .unwrap();
        assert_eq!(lists.calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn the_cache_is_bounded_by_members() {
        let lists = Arc::new(Lists::default());
        lists.n.store(100, Ordering::SeqCst);
        let r = Recipients::with_capacity(StorageClient::local(lists.clone()), 1_000);
        for i in 0..100 {
            r.of_event(&format!("c{i}"), Some(version(100)))
                .await
                .unwrap();
        }
        assert!(r.lists.weight() <= 1_000, "weight {}", r.lists.weight());
    }
}
