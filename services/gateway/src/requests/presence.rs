//! Who is online, for the people allowed to know.

use super::{Ctx, MAX_USERS_PER_REQUEST};
use parley_core::services::{PresenceApi, StorageApi};
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use pb::server_frame::Payload;
use std::collections::HashSet;

/// The people who share a conversation with the caller and are in no
/// block with them: who may see each other's presence, and whom the
/// caller may add to a group without an invitation.
pub(super) async fn contacts(ctx: &Ctx<'_>) -> ServiceResult<HashSet<String>> {
    Ok(ctx
        .gw
        .storage
        .contacts(pb::CallerRequest {
            caller: ctx.caller()?,
        })
        .await?
        .user_ids
        .into_iter()
        .collect())
}

/// Presence is visible only between people who share a conversation: the
/// others in the query are left out of the reply.
pub(super) async fn query_presence(ctx: &Ctx<'_>, q: pb::QueryPresence) -> ServiceResult<Payload> {
    if q.user_ids.len() > MAX_USERS_PER_REQUEST {
        return Err(ServiceError::InvalidArgument(format!(
            "at most {MAX_USERS_PER_REQUEST} users per query"
        )));
    }
    let contacts = contacts(ctx).await?;
    let visible: Vec<String> = q
        .user_ids
        .into_iter()
        .filter(|u| u == ctx.me() || contacts.contains(u))
        .collect();
    let users = ctx
        .gw
        .presence
        .query(pb::PresenceQuery { user_ids: visible })
        .await?
        .users;
    Ok(Payload::Presence(pb::PresenceReply { users }))
}
