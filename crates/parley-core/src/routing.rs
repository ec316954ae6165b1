//! Routes storage calls to the instance that owns each conversation.
//!
//! Ownership is rendezvous (highest-random-weight) hashing of the
//! conversation id over the positions of a fixed list of storage instances.
//! The list is the shard map: each instance keeps its conversations on its
//! own disk, so the list must never be reordered or shrunk; growing it moves
//! conversations and needs a shared store (ScyllaDB).

use crate::ids::{direct_id, validate_id};
use crate::list_order::state_key;
use crate::services::{StorageApi, StorageClient};
use crate::{Caller, ServiceResult};
use async_trait::async_trait;
use parley_proto::v1 as pb;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Which storage instance answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// The owner of this conversation.
    Conversation(Cow<'a, str>),
    /// Every instance: the caller's conversations are spread over them.
    Everywhere,
    /// Any instance: the request names no valid conversation (it will be
    /// refused with the reason), or a new group whose id the answering
    /// instance picks among those it owns.
    Any,
}

/// A storage request knows which conversation it is about. The router
/// sends it to that conversation's owner and the owner refuses one that is
/// not its own: this is the one place that knows which field that is.
pub trait Routed {
    fn route(&self) -> Route<'_>;
}

fn conversation(id: &str) -> Route<'_> {
    match validate_id("conversation_id", id) {
        Ok(()) => Route::Conversation(Cow::Borrowed(id)),
        Err(_) => Route::Any,
    }
}

impl Routed for pb::CreateConversationRequest {
    fn route(&self) -> Route<'_> {
        if self.kind == pb::ConversationKind::Direct as i32 {
            // A direct conversation's id derives from its two members.
            let creator = Caller::from_proto(self.caller.as_ref());
            return match (creator, self.member_ids.as_slice()) {
                (Ok(Caller::User(me)), [other]) if validate_id("user_id", other).is_ok() => {
                    Route::Conversation(Cow::Owned(direct_id(&me, other)))
                }
                _ => Route::Any,
            };
        }
        match self.conversation_id.as_str() {
            "" => Route::Any,
            id => conversation(id),
        }
    }
}

macro_rules! routed_by {
    ($($Req:ty => |$r:ident| $conv:expr;)*) => {
        $(impl Routed for $Req {
            fn route(&self) -> Route<'_> {
                let $r = self;
                conversation($conv)
            }
        })*
    };
}

routed_by! {
    pb::ConversationRequest => |r| &r.conversation_id;
    pb::MembersRequest => |r| &r.conversation_id;
    pb::AddMembersRequest => |r| &r.conversation_id;
    pb::RemoveMemberRequest => |r| &r.conversation_id;
    pb::MarkReadRequest => |r| &r.conversation_id;
    pb::SettingsRequest => |r| &r.conversation_id;
    pb::RespondRequest => |r| &r.conversation_id;
    pb::MessageRequest => |r| &r.conversation_id;
    pb::AppendRequest => |r| r.send.as_ref().map_or("", |s| s.conversation_id.as_str());
    pb::UserHistoryRequest => |r| r.request.as_ref().map_or("", |h| h.conversation_id.as_str());
}

/// A pair's records live with the pair's direct conversation.
fn pair(caller: Option<&pb::Caller>, other: &str) -> Route<'static> {
    match Caller::from_proto(caller) {
        Ok(Caller::User(me)) if validate_id("user_id", other).is_ok() => {
            Route::Conversation(Cow::Owned(direct_id(&me, other)))
        }
        _ => Route::Any,
    }
}

impl Routed for pb::BlockRequest {
    fn route(&self) -> Route<'_> {
        pair(self.caller.as_ref(), &self.user_id)
    }
}

/// Asks about many pairs: the router splits it by owner (see
/// `StorageApi::relations` of `StorageRouter`); routed as one, it goes to
/// the owner of the first pair (all of them, with one instance).
impl Routed for pb::RelationsRequest {
    fn route(&self) -> Route<'_> {
        match self.user_ids.first() {
            Some(u) => pair(self.caller.as_ref(), u),
            None => Route::Any,
        }
    }
}

/// One conversation's search goes to its owner; a search of all of the
/// caller's conversations to every instance.
impl Routed for pb::UserSearchRequest {
    fn route(&self) -> Route<'_> {
        match self
            .request
            .as_ref()
            .map_or("", |r| r.conversation_id.as_str())
        {
            "" => Route::Everywhere,
            id => conversation(id),
        }
    }
}

impl Routed for pb::CallerRequest {
    fn route(&self) -> Route<'_> {
        Route::Everywhere
    }
}

impl Routed for pb::SyncPageRequest {
    fn route(&self) -> Route<'_> {
        Route::Everywhere
    }
}

/// One page out of each instance's page, in the page's order. An instance
/// that had more stopped at its last key; nothing past the smallest such
/// key is certain to be complete, so the merged page stops there (and at
/// the limit, which every instance also honoured).
pub fn merge_sync_pages(pages: Vec<pb::SyncReply>, page: &pb::SyncRequest) -> pb::SyncReply {
    let order = page.order();
    let cutoff = pages
        .iter()
        .filter(|p| p.has_more)
        .map(|p| p.next_after.clone())
        .min();
    let mut all: Vec<(String, pb::ConversationState)> = pages
        .into_iter()
        .flat_map(|p| p.conversations)
        .map(|s| (state_key(order, &s), s))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.dedup_by(|a, b| a.0 == b.0);
    let limit = match page.limit {
        0 => 200,
        n => n as usize,
    };
    let mut has_more = cutoff.is_some();
    if let Some(cut) = &cutoff {
        all.retain(|(k, _)| k <= cut);
    }
    if all.len() > limit {
        all.truncate(limit);
        has_more = true;
    }
    let next_after = match (has_more, all.last()) {
        (true, Some((k, _))) => k.clone(),
        _ => String::new(),
    };
    pb::SyncReply {
        conversations: all.into_iter().map(|(_, s)| s).collect(),
        has_more,
        next_after,
    }
}

/// The newest invitations first, at most `MAX_INVITATIONS` of them.
pub const MAX_INVITATIONS: usize = 200;

pub fn merge_invitations(mut all: Vec<pb::Invitation>) -> pb::InvitationsReply {
    all.sort_by(|a, b| {
        b.invited_at_ms
            .cmp(&a.invited_at_ms)
            .then_with(|| conv_id(a).cmp(conv_id(b)))
    });
    all.truncate(MAX_INVITATIONS);
    pb::InvitationsReply { invitations: all }
}

fn conv_id(i: &pb::Invitation) -> &str {
    i.conversation.as_ref().map_or("", |c| c.id.as_str())
}

/// Hits at most in a search reply, and when the request does not say.
pub const MAX_SEARCH_HITS: u32 = 50;
pub const DEFAULT_SEARCH_HITS: u32 = 20;

/// The best `limit` hits of every instance's, best first (each instance
/// ranked its own with the same scoring, so the scores compare).
pub fn merge_search_hits(mut hits: Vec<pb::SearchHit>, limit: u32) -> pb::SearchReply {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.sent_at_ms.cmp(&a.sent_at_ms))
    });
    let limit = match limit {
        0 => DEFAULT_SEARCH_HITS,
        n => n.min(MAX_SEARCH_HITS),
    };
    hits.truncate(limit as usize);
    pb::SearchReply { hits }
}

pub struct StorageRouter {
    shards: Vec<StorageClient>,
}

/// The weight of `shard` for `conv`: stable across processes and versions.
fn score(conv: &str, shard: usize) -> u64 {
    let mut h = Sha256::new();
    h.update(conv.as_bytes());
    h.update([0]);
    h.update((shard as u64).to_le_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The position of the instance owning `conv` among `n` instances.
pub fn owner_of(conv: &str, n: usize) -> usize {
    (0..n.max(1)).max_by_key(|&i| score(conv, i)).unwrap_or(0)
}

impl StorageRouter {
    /// `shards` in shard-map order (must not be empty).
    pub fn new(shards: Vec<StorageClient>) -> Self {
        assert!(!shards.is_empty(), "at least one storage instance");
        Self { shards }
    }

    /// The instance that answers a single-conversation request.
    fn pick(&self, req: &impl Routed) -> &StorageClient {
        match req.route() {
            Route::Conversation(conv) => &self.shards[owner_of(&conv, self.shards.len())],
            Route::Everywhere | Route::Any => &self.shards[0],
        }
    }
}

#[async_trait]
impl StorageApi for StorageRouter {
    async fn create_conversation(
        &self,
        mut req: pb::CreateConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        // A group's id decides its owner, so it is chosen here.
        if req.kind != pb::ConversationKind::Direct as i32 && req.conversation_id.is_empty() {
            req.conversation_id = uuid::Uuid::now_v7().to_string();
        }
        self.pick(&req).create_conversation(req).await
    }

    async fn get_conversation(
        &self,
        req: pb::ConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        self.pick(&req).get_conversation(req).await
    }

    async fn add_members(&self, req: pb::AddMembersRequest) -> ServiceResult<pb::AppendReply> {
        self.pick(&req).add_members(req).await
    }

    async fn remove_member(&self, req: pb::RemoveMemberRequest) -> ServiceResult<pb::AppendReply> {
        self.pick(&req).remove_member(req).await
    }

    async fn append(&self, req: pb::AppendRequest) -> ServiceResult<pb::AppendReply> {
        self.pick(&req).append(req).await
    }

    async fn history(&self, req: pb::UserHistoryRequest) -> ServiceResult<pb::HistoryReply> {
        self.pick(&req).history(req).await
    }

    async fn sync(&self, req: pb::SyncPageRequest) -> ServiceResult<pb::SyncReply> {
        // Each instance pages through the caller's conversations it owns.
        let replies =
            futures::future::join_all(self.shards.iter().map(|s| s.sync(req.clone()))).await;
        let mut pages = Vec::with_capacity(replies.len());
        for r in replies {
            pages.push(r?);
        }
        Ok(merge_sync_pages(pages, &req.page.unwrap_or_default()))
    }

    async fn mark_read(&self, req: pb::MarkReadRequest) -> ServiceResult<pb::ReadState> {
        self.pick(&req).mark_read(req).await
    }

    async fn list_members(&self, req: pb::MembersRequest) -> ServiceResult<pb::MembersPage> {
        self.pick(&req).list_members(req).await
    }

    async fn member_ids(&self, req: pb::MembersRequest) -> ServiceResult<pb::MemberIdsReply> {
        self.pick(&req).member_ids(req).await
    }

    async fn update_settings(&self, req: pb::SettingsRequest) -> ServiceResult<pb::SettingsReply> {
        self.pick(&req).update_settings(req).await
    }

    async fn contacts(&self, req: pb::CallerRequest) -> ServiceResult<pb::ContactsReply> {
        let replies =
            futures::future::join_all(self.shards.iter().map(|s| s.contacts(req.clone()))).await;
        let (mut all, mut blocked) = (BTreeSet::new(), BTreeSet::new());
        for r in replies {
            let r = r?;
            all.extend(r.user_ids);
            blocked.extend(r.blocked_user_ids);
        }
        // A block on one instance outweighs a shared group on another.
        all.retain(|u| !blocked.contains(u));
        Ok(pb::ContactsReply {
            user_ids: all.into_iter().collect(),
            blocked_user_ids: blocked.into_iter().collect(),
        })
    }

    async fn block(&self, req: pb::BlockRequest) -> ServiceResult<pb::Empty> {
        self.pick(&req).block(req).await
    }

    async fn list_blocked(&self, req: pb::CallerRequest) -> ServiceResult<pb::BlockedReply> {
        let replies =
            futures::future::join_all(self.shards.iter().map(|s| s.list_blocked(req.clone())))
                .await;
        let mut all = BTreeSet::new();
        for r in replies {
            all.extend(r?.user_ids);
        }
        Ok(pb::BlockedReply {
            user_ids: all.into_iter().collect(),
        })
    }

    async fn relations(&self, req: pb::RelationsRequest) -> ServiceResult<pb::RelationsReply> {
        // Each instance is asked about the pairs it owns.
        let mut by_shard: Vec<Vec<String>> = vec![Vec::new(); self.shards.len()];
        for u in &req.user_ids {
            let owner = match pair(req.caller.as_ref(), u) {
                Route::Conversation(dm) => owner_of(&dm, self.shards.len()),
                // Refused with the reason by whoever answers.
                Route::Everywhere | Route::Any => 0,
            };
            by_shard[owner].push(u.clone());
        }
        let calls = by_shard
            .into_iter()
            .enumerate()
            .filter(|(_, users)| !users.is_empty())
            .map(|(i, user_ids)| {
                self.shards[i].relations(pb::RelationsRequest {
                    caller: req.caller.clone(),
                    user_ids,
                })
            });
        let mut blocked = BTreeSet::new();
        for r in futures::future::join_all(calls).await {
            blocked.extend(r?.blocked_user_ids);
        }
        Ok(pb::RelationsReply {
            blocked_user_ids: blocked.into_iter().collect(),
        })
    }

    async fn invitations(&self, req: pb::CallerRequest) -> ServiceResult<pb::InvitationsReply> {
        let replies =
            futures::future::join_all(self.shards.iter().map(|s| s.invitations(req.clone()))).await;
        let mut all = Vec::new();
        for r in replies {
            all.extend(r?.invitations);
        }
        Ok(merge_invitations(all))
    }

    async fn respond(&self, req: pb::RespondRequest) -> ServiceResult<pb::RespondReply> {
        self.pick(&req).respond(req).await
    }

    async fn message(&self, req: pb::MessageRequest) -> ServiceResult<pb::Event> {
        self.pick(&req).message(req).await
    }

    async fn search(&self, req: pb::UserSearchRequest) -> ServiceResult<pb::SearchReply> {
        if !matches!(req.route(), Route::Everywhere) {
            return self.pick(&req).search(req).await;
        }
        let replies =
            futures::future::join_all(self.shards.iter().map(|s| s.search(req.clone()))).await;
        let mut hits = Vec::new();
        for r in replies {
            hits.extend(r?.hits);
        }
        Ok(merge_search_hits(hits, req.request.map_or(0, |r| r.limit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str], has_more: bool) -> pb::SyncReply {
        let conversations: Vec<pb::ConversationState> = ids
            .iter()
            .map(|id| pb::ConversationState {
                conversation: Some(pb::Conversation {
                    id: id.to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        pb::SyncReply {
            next_after: if has_more {
                ids.last().unwrap().to_string()
            } else {
                String::new()
            },
            conversations,
            has_more,
        }
    }

    fn ids(r: &pb::SyncReply) -> Vec<&str> {
        r.conversations
            .iter()
            .map(|s| s.conversation.as_ref().unwrap().id.as_str())
            .collect()
    }

    fn by_id(limit: u32) -> pb::SyncRequest {
        pb::SyncRequest {
            limit,
            ..Default::default()
        }
    }

    #[test]
    fn sync_pages_of_instances_merge_without_skipping() {
        // Instance A stopped early (at its byte budget) at "c"; B had
        // everything. Nothing past "c" is certain, so the page ends there.
        let merged = merge_sync_pages(
            vec![page(&["a", "c"], true), page(&["b", "d", "e"], false)],
            &by_id(10),
        );
        assert_eq!(ids(&merged), ["a", "b", "c"]);
        assert!(merged.has_more);
        assert_eq!(merged.next_after, "c");
        // No instance had more: everything, and done.
        let merged = merge_sync_pages(vec![page(&["a"], false), page(&["b"], false)], &by_id(10));
        assert_eq!(ids(&merged), ["a", "b"]);
        assert!(!merged.has_more && merged.next_after.is_empty());
        // Over the limit: cut at it.
        let merged = merge_sync_pages(
            vec![page(&["a", "c"], false), page(&["b", "d"], false)],
            &by_id(3),
        );
        assert_eq!(ids(&merged), ["a", "b", "c"]);
        assert_eq!(merged.next_after, "c");
    }

    #[test]
    fn activity_pages_merge_by_the_list_order() {
        let state = |id: &str, pinned: i64, active: i64| pb::ConversationState {
            conversation: Some(pb::Conversation {
                id: id.into(),
                ..Default::default()
            }),
            settings: Some(pb::ConversationSettings {
                pinned_at_ms: pinned,
                ..Default::default()
            }),
            last_activity_ms: active,
            ..Default::default()
        };
        let req = pb::SyncRequest {
            limit: 10,
            order: pb::SyncOrder::Activity as i32,
            ..Default::default()
        };
        // A: a pinned one and one active at 50, then stopped (more follow
        // below 50). B: everything it has, active at 90, 40 and 10.
        let a_states = vec![state("p", 1, 1), state("a50", 0, 50)];
        let a = pb::SyncReply {
            next_after: state_key(pb::SyncOrder::Activity, &a_states[1]),
            conversations: a_states,
            has_more: true,
        };
        let b = pb::SyncReply {
            conversations: vec![
                state("b90", 0, 90),
                state("b40", 0, 40),
                state("b10", 0, 10),
            ],
            has_more: false,
            next_after: String::new(),
        };
        let merged = merge_sync_pages(vec![a, b], &req);
        // Nothing below A's last (50) is certain: b40 and b10 wait.
        assert_eq!(ids(&merged), ["p", "b90", "a50"]);
        assert!(merged.has_more);
        assert_eq!(merged.next_after, activity_key_of(&merged, 2));
    }

    fn activity_key_of(r: &pb::SyncReply, i: usize) -> String {
        state_key(pb::SyncOrder::Activity, &r.conversations[i])
    }

    #[test]
    fn requests_route_to_their_conversation() {
        let dm = pb::CreateConversationRequest {
            caller: Caller::user("bob").unwrap().to_proto(),
            kind: pb::ConversationKind::Direct as i32,
            member_ids: vec!["alice".into()],
            ..Default::default()
        };
        assert_eq!(
            dm.route(),
            Route::Conversation(Cow::Owned(direct_id("alice", "bob")))
        );
        let group = pb::CreateConversationRequest {
            kind: pb::ConversationKind::Group as i32,
            ..Default::default()
        };
        assert_eq!(group.route(), Route::Any, "the instance picks the id");
        let send = pb::AppendRequest {
            send: Some(pb::Send {
                conversation_id: "c1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(send.route(), Route::Conversation("c1".into()));
        let bad = pb::ConversationRequest {
            conversation_id: "a.b".into(),
            ..Default::default()
        };
        assert_eq!(bad.route(), Route::Any, "refused by whoever answers");
        assert_eq!(pb::CallerRequest::default().route(), Route::Everywhere);
    }

    #[test]
    fn ownership_is_stable_and_spread() {
        // Fixed expectations: a change here moves conversations between
        // instances, which the embedded shards cannot survive.
        let pinned = [("conv-a", 2, 6), ("conv-b", 2, 4), ("dm-0123", 2, 5)];
        for (c, of3, of7) in pinned {
            assert_eq!((owner_of(c, 3), owner_of(c, 7)), (of3, of7), "{c}");
        }
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[owner_of(&format!("c{i}"), 4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
        // Adding an instance moves only the conversations it wins.
        let moved = (0..4000).filter(|i| {
            let c = format!("c{i}");
            let (before, after) = (owner_of(&c, 4), owner_of(&c, 5));
            before != after && after != 4
        });
        assert_eq!(moved.count(), 0);
        assert_eq!(owner_of("x", 1), 0);
    }
}
