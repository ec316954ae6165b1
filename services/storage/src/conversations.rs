//! Conversations and their members.

use crate::access::{is_manager, require_member, require_member_or_system, role_of, user_caller};
use crate::consent::is_direct_id;
use crate::handlers::Handlers;
use crate::pages::{
    DEFAULT_MEMBERS_LIMIT, MAX_MEMBERS_LIMIT, REPLY_BUDGET_BYTES, page_limit, take_page,
};
use parley_core::Caller;
use parley_core::ids::{direct_id, validate_id};
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use std::collections::{BTreeSet, HashSet};

fn is_direct(c: &pb::Conversation) -> bool {
    c.kind == pb::ConversationKind::Direct as i32
}

impl Handlers {
    pub(crate) async fn create_conversation(
        &self,
        req: pb::CreateConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        let creator = user_caller(req.caller.as_ref())?;
        for m in req.member_ids.iter().chain(&req.invite_ids) {
            validate_id("member_id", m)?;
        }
        let kind =
            pb::ConversationKind::try_from(req.kind).unwrap_or(pb::ConversationKind::Unspecified);
        // Starting a direct conversation may answer its request: checked
        // like any change of it.
        let mut _checked = None;
        let (id, title, members) = match kind {
            pb::ConversationKind::Direct => {
                let [other] = req.member_ids.as_slice() else {
                    return Err(ServiceError::InvalidArgument(
                        "a direct conversation has exactly one other member".into(),
                    ));
                };
                if *other == creator {
                    return Err(ServiceError::InvalidArgument(
                        "cannot start a direct conversation with yourself".into(),
                    ));
                }
                let members = vec![
                    member(&creator, pb::Role::Member),
                    member(other, pb::Role::Member),
                ];
                let id = direct_id(&creator, other);
                _checked = Some(self.changes.lock(&id).await);
                let exists = self.store.conversation(&id).await?.is_some();
                // Refused in a block; a request when the gateway says the
                // other has to accept (`invite_ids` names them).
                self.start_direct(&creator, other, !req.invite_ids.is_empty(), exists)
                    .await?;
                (id, String::new(), members)
            }
            pb::ConversationKind::Group => {
                if req.title.chars().count() > crate::group_admin::MAX_TITLE_CHARS {
                    return Err(ServiceError::InvalidArgument(format!(
                        "title is longer than {} characters",
                        crate::group_admin::MAX_TITLE_CHARS
                    )));
                }
                let others: BTreeSet<&String> =
                    req.member_ids.iter().filter(|m| **m != creator).collect();
                if others.len() + 1 > self.config.max_group_members
                    || req.invite_ids.len() > self.config.max_group_members
                {
                    return Err(ServiceError::InvalidArgument(format!(
                        "a group has at most {} members",
                        self.config.max_group_members
                    )));
                }
                let mut members = vec![member(&creator, pb::Role::Owner)];
                members.extend(others.into_iter().map(|m| member(m, pb::Role::Member)));
                let id = if req.conversation_id.is_empty() {
                    self.shard.new_group_id()
                } else {
                    validate_id("conversation_id", &req.conversation_id)?;
                    req.conversation_id.clone()
                };
                (id, req.title.clone(), members)
            }
            pb::ConversationKind::Unspecified => {
                return Err(ServiceError::InvalidArgument(
                    "conversation kind is required".into(),
                ));
            }
        };
        let conv = pb::Conversation {
            id: id.clone(),
            kind: kind as i32,
            title: title.clone(),
            created_at_ms: now_ms(),
            created_by: creator.clone(),
            members: vec![],
            member_count: 0,
            ..Default::default()
        };
        match self.store.create_conversation(&conv).await {
            Ok(()) => {}
            // Starting an existing DM returns it.
            Err(parley_ports::StoreError::AlreadyExists(_))
                if kind == pb::ConversationKind::Direct =>
            {
                return self
                    .get_conversation(pb::ConversationRequest {
                        conversation_id: id,
                        caller: req.caller,
                    })
                    .await;
            }
            Err(e) => return Err(e.into()),
        }
        self.put_members(&id, &members).await?;
        let body = pb::event::Body::Created(pb::ConversationCreated {
            kind: kind as i32,
            title,
            member_ids: members.iter().map(|m| m.user_id.clone()).collect(),
        });
        self.commit(&id, &creator, "", body).await?;
        if kind == pb::ConversationKind::Group && !req.invite_ids.is_empty() {
            self.invite_at_creation(&id, &creator, &req.invite_ids, &members)
                .await?;
        }
        self.with_first_members(conv).await
    }

    pub(crate) async fn get_conversation(
        &self,
        req: pb::ConversationRequest,
    ) -> ServiceResult<pb::Conversation> {
        let caller = Caller::from_proto(req.caller.as_ref())?;
        require_member_or_system(&*self.store, &req.conversation_id, &caller).await?;
        let conv = self
            .store
            .conversation(&req.conversation_id)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("conversation {}", req.conversation_id))
            })?;
        let visible_from = match &caller {
            Caller::User(user) => self.visible_from(&conv, user).await?,
            Caller::System => 1,
        };
        let mut reply = self.with_first_members(conv).await?;
        // Pins of messages from before the member may read are not theirs.
        reply.pins.retain(|p| p.target_seq >= visible_from);
        Ok(reply)
    }

    /// A conversation as a reply carries it: its member count and the
    /// first page of its members (all of them in all but large groups).
    async fn with_first_members(&self, conv: pb::Conversation) -> ServiceResult<pb::Conversation> {
        let mut all = self.store.members(&conv.id).await?;
        all.sort_unstable_by(|a, b| a.user_id.cmp(&b.user_id));
        let member_count = all.len() as u32;
        let limit = DEFAULT_MEMBERS_LIMIT as usize;
        let (members, _) = take_page(all, limit, REPLY_BUDGET_BYTES);
        let (pins, pins_seq) = self.pins_of(&conv.id).await?;
        let (invited_ids, request) = if is_direct(&conv) {
            (Vec::new(), self.pair_state(&conv.id).await?.request)
        } else {
            (self.invited_ids(&conv.id).await?, None)
        };
        Ok(pb::Conversation {
            members,
            member_count,
            pins,
            pins_seq,
            invited_ids,
            request,
            ..conv
        })
    }

    pub(crate) async fn add_members(
        &self,
        req: pb::AddMembersRequest,
    ) -> ServiceResult<pb::AppendReply> {
        let actor_id = user_caller(req.caller.as_ref())?;
        let _checked = self.changes.lock(&req.conversation_id).await;
        let actor = self.group_actor(&req.conversation_id, &actor_id).await?;
        if !is_manager(&actor) {
            return Err(ServiceError::PermissionDenied(
                "only admins and owners add members".into(),
            ));
        }
        let role = match pb::Role::try_from(req.role).unwrap_or(pb::Role::Unspecified) {
            pb::Role::Unspecified | pb::Role::Member => pb::Role::Member,
            pb::Role::Admin if role_of(&actor) == pb::Role::Owner => pb::Role::Admin,
            _ => {
                return Err(ServiceError::PermissionDenied(
                    "only the owner appoints admins".into(),
                ));
            }
        };
        if req.user_ids.is_empty() && req.invite_ids.is_empty() {
            return Err(ServiceError::InvalidArgument("user_ids is empty".into()));
        }
        for u in req.user_ids.iter().chain(&req.invite_ids) {
            validate_id("user_id", u)?;
        }
        let existing: HashSet<String> = self
            .store
            .members(&req.conversation_id)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        let new: BTreeSet<&String> = req
            .user_ids
            .iter()
            .filter(|u| !existing.contains(*u))
            .collect();
        let invited = self
            .invitable(&req.conversation_id, &req.invite_ids, &existing)
            .await?;
        if new.is_empty() && invited.is_empty() {
            // Nothing to record: no empty event burning a seq.
            return Err(ServiceError::AlreadyExists(
                "every one of them is already a member (or invited)".into(),
            ));
        }
        if existing.len() + new.len() > self.config.max_group_members {
            return Err(ServiceError::InvalidArgument(format!(
                "a group has at most {} members",
                self.config.max_group_members
            )));
        }
        let mut reply = None;
        if !invited.is_empty() {
            reply = Some(
                self.invite(&req.conversation_id, &actor_id, &invited, role)
                    .await?,
            );
        }
        if !new.is_empty() {
            let users: Vec<String> = new.into_iter().cloned().collect();
            reply = Some(
                self.join(&req.conversation_id, &actor_id, &users, role)
                    .await?,
            );
        }
        Ok(reply.expect("something was recorded"))
    }

    /// Makes `users` (none of them a member) members with `role`, as one
    /// membersAdded event sent by `actor`.
    pub(crate) async fn join(
        &self,
        conv: &str,
        actor: &str,
        users: &[String],
        role: pb::Role,
    ) -> ServiceResult<pb::AppendReply> {
        // Where a new member's reading starts, before they are a member at
        // all: the event that adds them takes a seq above the current head,
        // so that bound hides everything from before (a message racing the
        // add may be shown; nothing older). The exact seq follows the commit.
        let bound = self.sequencer.stable_head(conv).await? + 1;
        for u in users {
            self.store.set_joined(conv, u, bound).await?;
        }
        let rows: Vec<pb::Member> = users.iter().map(|u| member(u, role)).collect();
        self.put_members(conv, &rows).await?;
        // Nor is what came before unread for them, from the first moment.
        for u in users {
            self.store.set_read(conv, u, bound - 1).await?;
        }
        let body = pb::event::Body::MembersAdded(pb::MembersAdded {
            user_ids: users.to_vec(),
            role: role as i32,
        });
        let reply = self.commit_membership(conv, actor, body).await?;
        // A new member starts with everything before their joining read:
        // the group's earlier history is there to scroll back to, not to
        // count as unread.
        if let Some(joined) = &reply.event {
            for u in users {
                self.store.set_read(conv, u, joined.seq).await?;
                self.store.set_joined(conv, u, joined.seq).await?;
            }
        }
        Ok(reply)
    }

    pub(crate) async fn remove_member(
        &self,
        req: pb::RemoveMemberRequest,
    ) -> ServiceResult<pb::AppendReply> {
        let actor_id = user_caller(req.caller.as_ref())?;
        let _checked = self.changes.lock(&req.conversation_id).await;
        let actor = self.group_actor(&req.conversation_id, &actor_id).await?;
        validate_id("user_id", &req.user_id)?;
        let Some(target) = self
            .store
            .member(&req.conversation_id, &req.user_id)
            .await?
        else {
            // Removing someone invited withdraws the invitation.
            return self
                .withdraw_invitation(&req.conversation_id, &actor, &req.user_id)
                .await;
        };
        let leaving = req.user_id == actor_id;
        let outranks = is_manager(&actor) && role_of(&target) < role_of(&actor);
        if !(leaving || outranks) {
            return Err(ServiceError::PermissionDenied(
                "you may not remove this member".into(),
            ));
        }
        if leaving
            && role_of(&actor) == pb::Role::Owner
            && let Some(handover) = self.succession(&req.conversation_id, &actor_id).await?
        {
            // Recorded before the leave, so the group never reads ownerless.
            self.commit_membership(
                &req.conversation_id,
                &actor_id,
                pb::event::Body::RolesChanged(handover),
            )
            .await?;
        }
        let removed = self
            .store
            .remove_member(&req.conversation_id, &req.user_id)
            .await;
        self.sequencer.members.changed(&req.conversation_id);
        removed?;
        let body = pb::event::Body::MemberRemoved(pb::MemberRemoved {
            user_id: req.user_id.clone(),
        });
        self.commit_membership(&req.conversation_id, &actor_id, body)
            .await
    }

    /// A member pages through the others (the gateway always asks for a
    /// page); fanout lists all the recipients of an event or a signal at
    /// once (limit 0, which only internal callers use).
    pub(crate) async fn list_members(
        &self,
        req: pb::MembersRequest,
    ) -> ServiceResult<pb::MembersPage> {
        let caller = Caller::from_proto(req.caller.as_ref())?;
        require_member_or_system(&*self.store, &req.conversation_id, &caller).await?;
        let mut all = self.store.members(&req.conversation_id).await?;
        let whole = req.limit == 0 && req.after.is_empty();
        if whole {
            return Ok(pb::MembersPage {
                conversation_id: req.conversation_id,
                members: all,
                ..Default::default()
            });
        }
        let limit = page_limit(
            "members",
            req.limit,
            DEFAULT_MEMBERS_LIMIT,
            MAX_MEMBERS_LIMIT,
        )?;
        all.sort_unstable_by(|a, b| a.user_id.cmp(&b.user_id));
        all.retain(|m| m.user_id > req.after);
        let (members, has_more) = take_page(all, limit, REPLY_BUDGET_BYTES);
        let next_after = match (has_more, members.last()) {
            (true, Some(m)) => m.user_id.clone(),
            _ => String::new(),
        };
        Ok(pb::MembersPage {
            conversation_id: req.conversation_id,
            members,
            has_more,
            next_after,
        })
    }

    /// Every member's id with the list's version (fanout's recipients: it
    /// caches the list by version).
    pub(crate) async fn member_ids(
        &self,
        req: pb::MembersRequest,
    ) -> ServiceResult<pb::MemberIdsReply> {
        let caller = Caller::from_proto(req.caller.as_ref())?;
        require_member_or_system(&*self.store, &req.conversation_id, &caller).await?;
        // Read before the list: the list is at least as new as the version.
        let version = self.sequencer.members.current(&req.conversation_id);
        let members = self.store.members(&req.conversation_id).await?;
        let mut user_ids: Vec<String> = members.into_iter().map(|m| m.user_id).collect();
        // A user's signals (typing, receipts) in a direct conversation reach
        // only their own devices while there is a block, or while they have
        // not answered the other's message request (no "seen" before that).
        if let Caller::User(user) = &caller
            && is_direct_id(&req.conversation_id)
        {
            let pair = self.pair_state(&req.conversation_id).await?;
            let unanswered = pair
                .request
                .as_ref()
                .is_some_and(|r| r.from_user_id != *user);
            if !pair.blocked_by.is_empty() || unanswered {
                user_ids.retain(|u| u == user);
            }
        }
        Ok(pb::MemberIdsReply {
            user_ids,
            version: Some(version),
        })
    }

    /// Writes member rows; the list's version changes once they are
    /// durable (also after a failure: a version that changes for nothing
    /// only costs a cache refill).
    pub(crate) async fn put_members(&self, conv: &str, rows: &[pb::Member]) -> ServiceResult<()> {
        let written = self.store.put_members(conv, rows).await;
        self.sequencer.members.changed(conv);
        Ok(written?)
    }

    /// The people who share a conversation with the caller (who may see
    /// the caller's presence).
    pub(crate) async fn contacts(
        &self,
        req: pb::CallerRequest,
    ) -> ServiceResult<pb::ContactsReply> {
        let user = user_caller(req.caller.as_ref())?;
        let mut contacts = BTreeSet::new();
        for conv in self.store.user_conversations(&user).await? {
            // A message request not yet accepted makes no contact.
            if is_direct_id(&conv) && self.pair_state(&conv).await?.request.is_some() {
                continue;
            }
            for m in self.store.members(&conv).await? {
                if m.user_id != user {
                    contacts.insert(m.user_id);
                }
            }
        }
        let blocked = self.blocked_either_way(&user).await?;
        for b in &blocked {
            contacts.remove(b);
        }
        Ok(pb::ContactsReply {
            user_ids: contacts.into_iter().collect(),
            blocked_user_ids: blocked,
        })
    }

    /// The acting member of a group whose membership is about to change.
    async fn group_actor(&self, conv: &str, actor: &str) -> ServiceResult<pb::Member> {
        let member = require_member(&*self.store, conv, actor).await?;
        if is_direct(&self.conversation_meta(conv).await?) {
            return Err(ServiceError::InvalidArgument(
                "members of a direct conversation cannot change".into(),
            ));
        }
        Ok(member)
    }

    /// Records a membership change in the timeline.
    async fn commit_membership(
        &self,
        conv: &str,
        actor: &str,
        body: pb::event::Body,
    ) -> ServiceResult<pb::AppendReply> {
        let (event, _) = self.commit(conv, actor, "", body).await?;
        Ok(pb::AppendReply {
            event: Some(event),
            duplicate: false,
        })
    }

    pub(crate) async fn conversation_meta(&self, id: &str) -> ServiceResult<pb::Conversation> {
        self.store
            .conversation(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("conversation {id}")))
    }
}

fn member(user: &str, role: pb::Role) -> pb::Member {
    pb::Member {
        user_id: user.to_string(),
        role: role as i32,
        read_seq: 0,
    }
}

#[cfg(test)]
mod tests {
    use parley_core::ids::direct_id;

    #[test]
    fn direct_ids_are_symmetric_and_safe() {
        assert_eq!(direct_id("alice", "bob"), direct_id("bob", "alice"));
        assert_ne!(direct_id("alice", "bob"), direct_id("alice", "carol"));
        assert!(parley_core::ids::validate_id("id", &direct_id("a", "b")).is_ok());
    }
}
