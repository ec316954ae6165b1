//! Per-conversation signals and state of one member: read receipts,
//! typing, and their own settings of the conversation.

use super::Ctx;
use parley_core::ServiceResult;
use parley_core::services::{FanoutApi, StorageApi};
use parley_proto::v1 as pb;
use pb::server_frame::Payload;

/// Replaces the member's own settings of a conversation.
pub(super) async fn update_settings(
    ctx: &Ctx<'_>,
    u: pb::UpdateSettings,
) -> ServiceResult<Payload> {
    let req = pb::SettingsRequest {
        conversation_id: u.conversation_id,
        caller: ctx.caller()?,
        settings: u.settings,
    };
    let stored = ctx.gw.storage.update_settings(req).await?;
    // The user's other devices hear of it at once (off the request's path).
    let frame = pb::ServerFrame {
        id: String::new(),
        payload: Some(Payload::SettingsChanged(stored.clone())),
    };
    let (gw, user) = (ctx.gw.clone(), ctx.me().to_string());
    ctx.gw.tracker.spawn(async move {
        if let Err(e) = gw.registry.push_to_user(&user, frame).await {
            tracing::debug!(error = %e, "settings change not pushed");
        }
    });
    Ok(Payload::Settings(stored))
}

/// Moves the read watermark, then, if it rose, tells the members (off the
/// request's path: the reply does not wait for the fan-out).
pub(super) async fn mark_read(ctx: &Ctx<'_>, m: pb::MarkRead) -> ServiceResult<Payload> {
    let req = pb::MarkReadRequest {
        conversation_id: m.conversation_id,
        caller: ctx.caller()?,
        seq: m.seq,
        thread_root_seq: m.thread_root_seq,
    };
    let state = ctx.gw.storage.mark_read(req).await?;
    if !state.raised {
        // Nothing changed: no receipt for the others to process.
        return Ok(Payload::Read(pb::ReadAck {
            conversation_id: state.conversation_id,
            read_seq: state.read_seq,
        }));
    }
    let signal = pb::ReceiptSignal {
        conversation_id: state.conversation_id.clone(),
        user_id: state.user_id.clone(),
        read_seq: state.read_seq,
    };
    let fanout = ctx.gw.fanout.clone();
    ctx.gw.tracker.spawn(async move {
        if let Err(e) = fanout.receipt(signal).await {
            tracing::debug!(error = %e, "receipt not delivered");
        }
    });
    Ok(Payload::Read(pb::ReadAck {
        conversation_id: state.conversation_id,
        read_seq: state.read_seq,
    }))
}

pub(super) async fn typing(ctx: &Ctx<'_>, t: pb::TypingRequest) -> ServiceResult<Payload> {
    ctx.gw
        .fanout
        .typing(pb::TypingSignal {
            conversation_id: t.conversation_id,
            user_id: ctx.me().to_string(),
        })
        .await?;
    Ok(Payload::Ok(pb::Empty {}))
}
