//! Starting conversations, changing their members, reading one.

use super::users::require_users;
use super::{Ctx, ack, consent};
use parley_core::ServiceResult;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;
use pb::server_frame::Payload;

pub(super) async fn create_direct(ctx: &Ctx<'_>, d: pb::CreateDirect) -> ServiceResult<Payload> {
    ctx.gw.creations.check(ctx.me())?;
    require_users(ctx, std::slice::from_ref(&d.user_id)).await?;
    // A stranger's first message is a request the other accepts.
    let (_, request) = consent::split(ctx, vec![d.user_id.clone()], false).await?;
    let req = pb::CreateConversationRequest {
        caller: ctx.caller()?,
        kind: pb::ConversationKind::Direct as i32,
        member_ids: vec![d.user_id],
        invite_ids: request,
        ..Default::default()
    };
    Ok(Payload::Conversation(
        ctx.gw.storage.create_conversation(req).await?,
    ))
}

pub(super) async fn create_group(ctx: &Ctx<'_>, g: pb::CreateGroup) -> ServiceResult<Payload> {
    ctx.gw.creations.check(ctx.me())?;
    require_users(ctx, &g.member_ids).await?;
    let (added, invited) = consent::split(ctx, g.member_ids, true).await?;
    let req = pb::CreateConversationRequest {
        caller: ctx.caller()?,
        kind: pb::ConversationKind::Group as i32,
        title: g.title,
        member_ids: added,
        invite_ids: invited.clone(),
        ..Default::default()
    };
    let conv = ctx.gw.storage.create_conversation(req).await?;
    consent::push_invitations(ctx, &invited, &conv, pb::Role::Member, None);
    Ok(Payload::Conversation(conv))
}

pub(super) async fn add_members(ctx: &Ctx<'_>, a: pb::AddMembers) -> ServiceResult<Payload> {
    require_users(ctx, &a.user_ids).await?;
    let (added, invited) = consent::split(ctx, a.user_ids, true).await?;
    let req = pb::AddMembersRequest {
        conversation_id: a.conversation_id.clone(),
        caller: ctx.caller()?,
        user_ids: added,
        role: a.role,
        invite_ids: invited.clone(),
    };
    let reply = ctx.gw.storage.add_members(req).await?;
    // The invitees hear of it (one invited before gets it again: a
    // client keeps one invitation per group).
    if !invited.is_empty() {
        let conv = ctx
            .gw
            .storage
            .get_conversation(pb::ConversationRequest {
                conversation_id: a.conversation_id,
                caller: ctx.caller()?,
            })
            .await?;
        let role = pb::Role::try_from(a.role).unwrap_or(pb::Role::Member);
        let event = reply
            .event
            .as_ref()
            .filter(|e| matches!(e.body, Some(pb::event::Body::MembersInvited(_))));
        consent::push_invitations(ctx, &invited, &conv, role, event);
    }
    Ok(ack(reply))
}

pub(super) async fn remove_member(ctx: &Ctx<'_>, r: pb::RemoveMember) -> ServiceResult<Payload> {
    let req = pb::RemoveMemberRequest {
        conversation_id: r.conversation_id,
        caller: ctx.caller()?,
        user_id: r.user_id,
    };
    let reply = ctx.gw.storage.remove_member(req).await?;
    if let Some(pb::event::Body::InvitationClosed(c)) =
        reply.event.as_ref().and_then(|e| e.body.as_ref())
    {
        consent::push_to(
            ctx,
            vec![c.user_id.clone()],
            Payload::InvitationGone(pb::InvitationGone {
                conversation_id: reply
                    .event
                    .as_ref()
                    .map(|e| e.conversation_id.clone())
                    .unwrap_or_default(),
                accepted: false,
            }),
        );
    }
    Ok(ack(reply))
}

pub(super) async fn get_conversation(
    ctx: &Ctx<'_>,
    g: pb::GetConversation,
) -> ServiceResult<Payload> {
    let req = pb::ConversationRequest {
        conversation_id: g.conversation_id,
        caller: ctx.caller()?,
    };
    Ok(Payload::Conversation(
        ctx.gw.storage.get_conversation(req).await?,
    ))
}

/// Members of one page when the client does not say (storage refuses more
/// than 1000; a limit of 0 would mean "all of them" to storage).
const DEFAULT_MEMBERS_PAGE: u32 = 500;

pub(super) async fn list_members(ctx: &Ctx<'_>, l: pb::ListMembers) -> ServiceResult<Payload> {
    let req = pb::MembersRequest {
        conversation_id: l.conversation_id,
        caller: ctx.caller()?,
        after: l.after,
        limit: match l.limit {
            0 => DEFAULT_MEMBERS_PAGE,
            n => n,
        },
    };
    Ok(Payload::Members(ctx.gw.storage.list_members(req).await?))
}
