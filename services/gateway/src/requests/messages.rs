//! Sends (and forwards), and reading the timeline back: sync and history.

use super::{Ctx, ack};
use parley_core::services::StorageApi;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use pb::server_frame::Payload;

pub(super) async fn send(ctx: &Ctx<'_>, s: pb::Send) -> ServiceResult<Payload> {
    if let Some(pb::send::Body::Message(m)) = &s.body
        && m.forwarded.is_some()
    {
        // Only the server says where a message came from (`forward`).
        return Err(ServiceError::InvalidArgument(
            "a message cannot claim to be forwarded: use the forward request".into(),
        ));
    }
    append(ctx, s).await
}

async fn append(ctx: &Ctx<'_>, s: pb::Send) -> ServiceResult<Payload> {
    let reply = ctx
        .gw
        .storage
        .append(pb::AppendRequest {
            caller: ctx.caller()?,
            send: Some(s),
        })
        .await?;
    metrics::counter!("parley_gateway_sends_total").increment(1);
    Ok(ack(reply))
}

pub(super) async fn sync(ctx: &Ctx<'_>, page: pb::SyncRequest) -> ServiceResult<Payload> {
    let req = pb::SyncPageRequest {
        caller: ctx.caller()?,
        page: Some(page),
    };
    Ok(Payload::Sync(ctx.gw.storage.sync(req).await?))
}

pub(super) async fn history(ctx: &Ctx<'_>, h: pb::HistoryRequest) -> ServiceResult<Payload> {
    let req = pb::UserHistoryRequest {
        caller: ctx.caller()?,
        request: Some(h),
    };
    Ok(Payload::History(ctx.gw.storage.history(req).await?))
}

/// Copies a message, as it reads now, into another conversation of the
/// caller's, marked with its original author and time. The source is read
/// through its own conversation's membership check, the copy appended
/// through the target's: the caller must be a member of both.
pub(super) async fn forward(ctx: &Ctx<'_>, f: pb::Forward) -> ServiceResult<Payload> {
    let source = ctx
        .gw
        .storage
        .message(pb::MessageRequest {
            caller: ctx.caller()?,
            conversation_id: f.from_conversation_id,
            seq: f.seq,
        })
        .await?;
    let Some(pb::event::Body::Message(original)) = source.body else {
        return Err(ServiceError::NotFound("no such message".into()));
    };
    // A forward of a forward names the first author.
    let forwarded = original.forwarded.unwrap_or(pb::Forwarded {
        sender_id: source.sender_id,
        sent_at_ms: source.sent_at_ms,
    });
    let body = pb::MessageBody {
        text: original.text,
        forwarded: Some(forwarded),
        // Mentions and replies point into the other conversation: dropped.
        ..Default::default()
    };
    append(
        ctx,
        pb::Send {
            conversation_id: f.to_conversation_id,
            client_msg_id: f.client_msg_id,
            body: Some(pb::send::Body::Message(body)),
        },
    )
    .await
}

/// Full-text search of the caller's conversations (or one of them).
pub(super) async fn search(ctx: &Ctx<'_>, r: pb::SearchRequest) -> ServiceResult<Payload> {
    let reply = ctx
        .gw
        .storage
        .search(pb::UserSearchRequest {
            caller: ctx.caller()?,
            request: Some(r),
        })
        .await?;
    Ok(Payload::Search(reply))
}
