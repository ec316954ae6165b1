//! Who has to agree before joining a conversation: blocks, message
//! requests and group invitations (the rule is `gateway.invitations`), and
//! the requests that answer them.

use super::Ctx;
use crate::config::Invitations;
use parley_core::ids::is_direct_id;
use parley_core::services::StorageApi;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use pb::server_frame::Payload;

/// The people asked for, split into those added at once and those who
/// are invited (or, for a direct conversation, sent a request). Anyone in
/// a block with the caller refuses the whole request.
pub(super) async fn split(
    ctx: &Ctx<'_>,
    users: Vec<String>,
    group: bool,
) -> ServiceResult<(Vec<String>, Vec<String>)> {
    let others: Vec<String> = users.into_iter().filter(|u| u != ctx.me()).collect();
    if others.is_empty() {
        return Ok((others, Vec::new()));
    }
    if group {
        // A direct conversation's own owner checks its pair itself.
        let blocked = ctx
            .gw
            .storage
            .relations(pb::RelationsRequest {
                caller: ctx.caller()?,
                user_ids: others.clone(),
            })
            .await?
            .blocked_user_ids;
        if let Some(b) = blocked.first() {
            return Err(ServiceError::PermissionDenied(format!(
                "{b} cannot be added by you (one of you blocked the other)"
            )));
        }
    }
    let mode = ctx.gw.config.invitations;
    match mode {
        Invitations::Never => Ok((others, Vec::new())),
        Invitations::Always if group => Ok((Vec::new(), others)),
        Invitations::Always | Invitations::Strangers => {
            let contacts = super::presence::contacts(ctx).await?;
            Ok(others.into_iter().partition(|u| contacts.contains(u)))
        }
    }
}

pub(super) async fn block(ctx: &Ctx<'_>, user_id: String, unblock: bool) -> ServiceResult<Payload> {
    ctx.gw
        .storage
        .block(pb::BlockRequest {
            caller: ctx.caller()?,
            user_id,
            unblock,
        })
        .await?;
    Ok(Payload::Ok(pb::Empty {}))
}

pub(super) async fn list_blocked(ctx: &Ctx<'_>) -> ServiceResult<Payload> {
    let reply = ctx
        .gw
        .storage
        .list_blocked(pb::CallerRequest {
            caller: ctx.caller()?,
        })
        .await?;
    Ok(Payload::Blocked(reply))
}

pub(super) async fn list_invitations(ctx: &Ctx<'_>) -> ServiceResult<Payload> {
    let reply = ctx
        .gw
        .storage
        .invitations(pb::CallerRequest {
            caller: ctx.caller()?,
        })
        .await?;
    Ok(Payload::Invitations(reply))
}

pub(super) async fn respond(ctx: &Ctx<'_>, r: pb::Respond) -> ServiceResult<Payload> {
    let conv = r.conversation_id.clone();
    let reply = ctx
        .gw
        .storage
        .respond(pb::RespondRequest {
            caller: ctx.caller()?,
            conversation_id: r.conversation_id,
            accept: r.accept,
            block: r.block,
        })
        .await?;
    let direct = is_direct_id(&conv);
    if !r.accept && r.block && !direct {
        // The pair lives elsewhere: a block of its own.
        block(ctx, reply.invited_by.clone(), false).await?;
    }
    if !direct {
        // The answer reaches the user's other devices.
        push_to(
            ctx,
            vec![ctx.me().to_string()],
            Payload::InvitationGone(pb::InvitationGone {
                conversation_id: conv,
                accepted: r.accept,
            }),
        );
    }
    Ok(match reply.conversation {
        Some(c) => Payload::Conversation(c),
        None => Payload::Ok(pb::Empty {}),
    })
}

/// Tells the invitees of a group (its metadata as `conversation`; members
/// are not shown to people who are not members).
pub(super) fn push_invitations(
    ctx: &Ctx<'_>,
    invited: &[String],
    conversation: &pb::Conversation,
    role: pb::Role,
    event: Option<&pb::Event>,
) {
    if invited.is_empty() {
        return;
    }
    let invitation = pb::Invitation {
        conversation: Some(pb::Conversation {
            members: Vec::new(),
            invited_ids: Vec::new(),
            pins: Vec::new(),
            ..conversation.clone()
        }),
        invited_by: ctx.me().to_string(),
        role: role as i32,
        invited_at_ms: event.map_or(0, |e| e.sent_at_ms),
        seq: event.map_or(0, |e| e.seq),
    };
    push_to(ctx, invited.to_vec(), Payload::Invited(invitation));
}

/// Pushes a frame to every device of these users, off the request's path.
pub(super) fn push_to(ctx: &Ctx<'_>, users: Vec<String>, payload: Payload) {
    let frame = pb::ServerFrame {
        id: String::new(),
        payload: Some(payload),
    };
    let gw = ctx.gw.clone();
    ctx.gw.tracker.spawn(async move {
        for user in users {
            if let Err(e) = gw.registry.push_to_user(&user, frame.clone()).await {
                tracing::debug!(error = %e, "push to a user failed");
            }
        }
    });
}
