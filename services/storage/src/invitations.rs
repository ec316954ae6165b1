//! Group invitations: people asked to join who are not members until they
//! accept (they see the invitation, nothing of the group's timeline).
//!
//! An invitation is two records written together: under the group (its
//! pending invitations, `RecordKind::Invite`) and under the invitee (their
//! list, `RecordKind::UserInvite`), both on the instance that owns the
//! group. Members see `membersInvited` and `invitationClosed` events.

use crate::access::{is_manager, user_caller};
use crate::consent::is_direct_id;
use crate::handlers::Handlers;
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{RecordKey, RecordKind, RecordWrite};
use parley_proto::v1 as pb;
use prost::Message;
use std::collections::{BTreeSet, HashSet};

/// Pending invitations listed in a group's `invited_ids` (and a user's
/// list of invitations per instance).
pub(crate) const MAX_LISTED: usize = 200;

fn decode_invitation(bytes: &[u8]) -> ServiceResult<pb::Invitation> {
    pb::Invitation::decode(bytes)
        .map_err(|e| ServiceError::Internal(format!("invitation record: {e}")))
}

fn keys(conv: &str, user: &str) -> [RecordKey; 2] {
    [
        RecordKey::new(RecordKind::Invite, conv, user),
        RecordKey::new(RecordKind::UserInvite, user, conv),
    ]
}

impl Handlers {
    /// The pending invitation of `user` to `conv`, if any (a lapsed one
    /// is removed and is none).
    pub(crate) async fn invitation(
        &self,
        conv: &str,
        user: &str,
    ) -> ServiceResult<Option<pb::Invitation>> {
        let [key, _] = keys(conv, user);
        let Some(bytes) = self.store.record(&key).await? else {
            return Ok(None);
        };
        let invitation = decode_invitation(&bytes)?;
        if self.lapsed(&invitation) {
            self.forget_invitations(&[(conv, user)]).await?;
            return Ok(None);
        }
        Ok(Some(invitation))
    }

    /// Whether nobody answered the invitation within its lifetime.
    fn lapsed(&self, invitation: &pb::Invitation) -> bool {
        let ttl = self.config.invitation_ttl_secs;
        ttl > 0
            && now_ms().saturating_sub(invitation.invited_at_ms)
                > i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Removes lapsed invitations' records (both rows of each). No event:
    /// nobody acted, and the membersInvited event stays true of its time.
    async fn forget_invitations(&self, lapsed: &[(&str, &str)]) -> ServiceResult<()> {
        if lapsed.is_empty() {
            return Ok(());
        }
        let writes = lapsed
            .iter()
            .flat_map(|(conv, user)| keys(conv, user).map(RecordWrite::Delete))
            .collect();
        self.store.write_records(writes).await?;
        metrics::counter!("parley_storage_invitations_lapsed_total").increment(lapsed.len() as u64);
        Ok(())
    }

    /// Of `asked`, those who can be invited: not members, not invited yet.
    pub(crate) async fn invitable(
        &self,
        conv: &str,
        asked: &[String],
        members: &HashSet<String>,
    ) -> ServiceResult<Vec<String>> {
        let mut out = Vec::new();
        for u in asked.iter().collect::<BTreeSet<_>>() {
            if !members.contains(u) && self.invitation(conv, u).await?.is_none() {
                out.push(u.clone());
            }
        }
        Ok(out)
    }

    /// Invites `users` (checked by `invitable`) with `role`: one
    /// membersInvited event, then the records the invitees list.
    pub(crate) async fn invite(
        &self,
        conv: &str,
        actor: &str,
        users: &[String],
        role: pb::Role,
    ) -> ServiceResult<pb::AppendReply> {
        let body = pb::event::Body::MembersInvited(pb::MembersInvited {
            user_ids: users.to_vec(),
            role: role as i32,
        });
        let (event, _) = self.commit(conv, actor, "", body).await?;
        let invitation = pb::Invitation {
            conversation: None,
            invited_by: actor.to_string(),
            role: role as i32,
            invited_at_ms: event.sent_at_ms,
            seq: event.seq,
        }
        .encode_to_vec();
        let mut writes = Vec::with_capacity(users.len() * 2);
        for u in users {
            for key in keys(conv, u) {
                writes.push(RecordWrite::Put(key, invitation.clone()));
            }
        }
        self.store.write_records(writes).await?;
        Ok(pb::AppendReply {
            event: Some(event),
            duplicate: false,
        })
    }

    /// An admin or the owner takes an invitation back.
    pub(crate) async fn withdraw_invitation(
        &self,
        conv: &str,
        actor: &pb::Member,
        user: &str,
    ) -> ServiceResult<pb::AppendReply> {
        if self.invitation(conv, user).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "{user} is not a member (nor invited)"
            )));
        }
        if !is_manager(actor) {
            return Err(ServiceError::PermissionDenied(
                "only admins and owners withdraw invitations".into(),
            ));
        }
        self.close_invitation(conv, &actor.user_id, user, false)
            .await
    }

    async fn close_invitation(
        &self,
        conv: &str,
        actor: &str,
        user: &str,
        declined: bool,
    ) -> ServiceResult<pb::AppendReply> {
        self.store
            .write_records(keys(conv, user).map(RecordWrite::Delete).into())
            .await?;
        let body = pb::event::Body::InvitationClosed(pb::InvitationClosed {
            user_id: user.to_string(),
            declined,
        });
        let (event, _) = self.commit(conv, actor, "", body).await?;
        Ok(pb::AppendReply {
            event: Some(event),
            duplicate: false,
        })
    }

    /// The ids of the people invited to `conv` who have not answered (and
    /// whose invitation has not lapsed).
    pub(crate) async fn invited_ids(&self, conv: &str) -> ServiceResult<Vec<String>> {
        let rows = self
            .store
            .records(RecordKind::Invite, conv, "", MAX_LISTED)
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut lapsed = Vec::new();
        for (user, bytes) in &rows {
            if self.lapsed(&decode_invitation(bytes)?) {
                lapsed.push((conv, user.as_str()));
            } else {
                ids.push(user.clone());
            }
        }
        self.forget_invitations(&lapsed).await?;
        Ok(ids)
    }

    /// The caller's pending invitations to groups this instance owns, each
    /// with the group's metadata (no members).
    pub(crate) async fn invitations(
        &self,
        req: pb::CallerRequest,
    ) -> ServiceResult<pb::InvitationsReply> {
        let me = user_caller(req.caller.as_ref())?;
        let rows = self
            .store
            .records(RecordKind::UserInvite, &me, "", usize::MAX)
            .await?;
        let mut all = Vec::with_capacity(rows.len());
        let mut lapsed = Vec::new();
        for (conv, bytes) in &rows {
            let invitation = decode_invitation(bytes)?;
            if self.lapsed(&invitation) {
                lapsed.push((conv.as_str(), me.as_str()));
                continue;
            }
            let Some(meta) = self.store.conversation(conv).await? else {
                continue;
            };
            let member_count = self.store.members(conv).await?.len() as u32;
            all.push(pb::Invitation {
                conversation: Some(pb::Conversation {
                    member_count,
                    ..meta
                }),
                ..invitation
            });
        }
        self.forget_invitations(&lapsed).await?;
        Ok(parley_core::routing::merge_invitations(all))
    }

    /// Accepts or declines an invitation to a group, or a message request.
    pub(crate) async fn respond(&self, req: pb::RespondRequest) -> ServiceResult<pb::RespondReply> {
        let me = user_caller(req.caller.as_ref())?;
        parley_core::ids::validate_id("conversation_id", &req.conversation_id)?;
        let conv = req.conversation_id.as_str();
        let _checked = self.changes.lock(conv).await;
        if is_direct_id(conv) {
            crate::access::require_member(&*self.store, conv, &me).await?;
            return self.respond_direct(conv, &me, req.accept).await;
        }
        let invitation = self.invitation(conv, &me).await?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no invitation to {conv} (or it was withdrawn, or lapsed)"
            ))
        })?;
        if !req.accept {
            let closed = self.close_invitation(conv, &me, &me, true).await?;
            return Ok(pb::RespondReply {
                conversation: None,
                event: closed.event,
                invited_by: invitation.invited_by,
            });
        }
        let members = self.store.members(conv).await?.len();
        if members + 1 > self.config.max_group_members {
            return Err(ServiceError::InvalidArgument(format!(
                "the group is full ({} members)",
                self.config.max_group_members
            )));
        }
        let role = match pb::Role::try_from(invitation.role).unwrap_or(pb::Role::Member) {
            pb::Role::Admin => pb::Role::Admin,
            _ => pb::Role::Member,
        };
        // The records go first: an answer is taken once, and a crash in
        // between leaves a lost invitation (asked again), never a member
        // with an invitation still open.
        self.store
            .write_records(keys(conv, &me).map(RecordWrite::Delete).into())
            .await?;
        let joined = self
            .join(conv, &me, std::slice::from_ref(&me), role)
            .await?;
        let conversation = self
            .get_conversation(pb::ConversationRequest {
                conversation_id: conv.to_string(),
                caller: req.caller,
            })
            .await?;
        Ok(pb::RespondReply {
            conversation: Some(conversation),
            event: joined.event,
            invited_by: invitation.invited_by,
        })
    }

    /// Invitations made as a group is created (after its created event).
    pub(crate) async fn invite_at_creation(
        &self,
        conv: &str,
        creator: &str,
        invite_ids: &[String],
        members: &[pb::Member],
    ) -> ServiceResult<()> {
        let existing: HashSet<String> = members.iter().map(|m| m.user_id.clone()).collect();
        let users = self.invitable(conv, invite_ids, &existing).await?;
        if !users.is_empty() {
            self.invite(conv, creator, &users, pb::Role::Member).await?;
        }
        Ok(())
    }
}
