//! Sends, and reading the timeline back: sync and history.

use super::{Ctx, ack};
use parley_core::ServiceResult;
use parley_core::services::StorageApi;
use parley_proto::v1 as pb;
use pb::server_frame::Payload;

pub(super) async fn send(ctx: &Ctx<'_>, s: pb::Send) -> ServiceResult<Payload> {
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
