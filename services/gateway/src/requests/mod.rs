//! Answers the requests of an authenticated connection, one module per
//! family of requests (conversations, messages, receipts and typing,
//! presence, users, the session itself), each handler named after its
//! request. `dispatch` is the one place that maps a request type to its
//! handler and its metric name; errors become error replies here.

mod consent;
mod conversations;
mod messages;
mod presence;
mod receipts;
mod session;
mod users;

use crate::Gateway;
use crate::frames::error_frame;
use crate::ws::ConnHandle;
use parley_core::{Caller, ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use pb::client_frame::Request;
use pb::server_frame::Payload;
use std::future::Future;
use std::sync::Arc;

/// Longest request id a client may use.
pub(crate) const MAX_REQUEST_ID: usize = 64;
/// Most users one request may name.
const MAX_USERS_PER_REQUEST: usize = 200;

/// What a handler knows of the request's origin.
pub(crate) struct Ctx<'a> {
    pub(crate) gw: &'a Arc<Gateway>,
    pub(crate) conn: &'a ConnHandle,
}

impl Ctx<'_> {
    /// The authenticated user, as the caller of storage requests.
    fn caller(&self) -> ServiceResult<Option<pb::Caller>> {
        Ok(Caller::user(&self.conn.user_id)?.to_proto())
    }

    fn me(&self) -> &str {
        &self.conn.user_id
    }
}

/// Answers one frame (every request gets exactly one reply).
pub(crate) async fn dispatch(
    gw: &Arc<Gateway>,
    conn: &ConnHandle,
    frame: pb::ClientFrame,
) -> pb::ServerFrame {
    let id = frame.id;
    if id.len() > MAX_REQUEST_ID {
        return error_frame(
            "",
            "invalid_argument",
            "request id is longer than 64 bytes",
            0,
        );
    }
    let Some(request) = frame.request else {
        return error_frame(&id, "unknown_request", "unknown or missing request type", 0);
    };
    let ctx = Ctx { gw, conn };
    let (kind, result) = match request {
        Request::Authenticate(r) => run(&ctx, "authenticate", session::authenticate(&ctx, r)).await,
        Request::Ping(r) => run(&ctx, "ping", session::ping(r)).await,
        Request::CreateDirect(r) => {
            run(&ctx, "create_direct", conversations::create_direct(&ctx, r)).await
        }
        Request::CreateGroup(r) => {
            run(&ctx, "create_group", conversations::create_group(&ctx, r)).await
        }
        Request::AddMembers(r) => {
            run(&ctx, "add_members", conversations::add_members(&ctx, r)).await
        }
        Request::RemoveMember(r) => {
            run(&ctx, "remove_member", conversations::remove_member(&ctx, r)).await
        }
        Request::GetConversation(r) => {
            let handler = conversations::get_conversation(&ctx, r);
            run(&ctx, "get_conversation", handler).await
        }
        Request::ListMembers(r) => {
            run(&ctx, "list_members", conversations::list_members(&ctx, r)).await
        }
        Request::Send(r) => run(&ctx, "send", messages::send(&ctx, r)).await,
        Request::Sync(r) => run(&ctx, "sync", messages::sync(&ctx, r)).await,
        Request::History(r) => run(&ctx, "history", messages::history(&ctx, r)).await,
        Request::MarkRead(r) => run(&ctx, "mark_read", receipts::mark_read(&ctx, r)).await,
        Request::Typing(r) => run(&ctx, "typing", receipts::typing(&ctx, r)).await,
        Request::UpdateSettings(r) => {
            run(&ctx, "update_settings", receipts::update_settings(&ctx, r)).await
        }
        Request::LookupUsers(r) => run(&ctx, "lookup_users", users::lookup_users(&ctx, r)).await,
        Request::QueryPresence(r) => {
            run(&ctx, "query_presence", presence::query_presence(&ctx, r)).await
        }
        Request::Block(r) => run(&ctx, "block", consent::block(&ctx, r.user_id, false)).await,
        Request::Unblock(r) => run(&ctx, "unblock", consent::block(&ctx, r.user_id, true)).await,
        Request::ListBlocked(_) => run(&ctx, "list_blocked", consent::list_blocked(&ctx)).await,
        Request::ListInvitations(_) => {
            run(&ctx, "list_invitations", consent::list_invitations(&ctx)).await
        }
        Request::Respond(r) => run(&ctx, "respond", consent::respond(&ctx, r)).await,
        Request::Forward(r) => run(&ctx, "forward", messages::forward(&ctx, r)).await,
        Request::Search(r) => run(&ctx, "search", messages::search(&ctx, r)).await,
    };
    match result {
        Ok(payload) => pb::ServerFrame {
            id,
            payload: Some(payload),
        },
        Err(e) => {
            if matches!(e, ServiceError::Internal(_) | ServiceError::Unavailable(_)) {
                tracing::warn!(error = %e, request = kind, "request failed");
            }
            error_frame(&id, e.protocol_code(), &e.public_message(), 0)
        }
    }
}

/// Runs a handler in a span named after its request, timing it.
async fn run(
    ctx: &Ctx<'_>,
    kind: &'static str,
    handler: impl Future<Output = ServiceResult<Payload>>,
) -> (&'static str, ServiceResult<Payload>) {
    let started = std::time::Instant::now();
    let span = tracing::info_span!("request", kind, user = %ctx.me());
    let result = tracing::Instrument::instrument(handler, span).await;
    metrics::histogram!("parley_gateway_request_seconds", "request" => kind)
        .record(started.elapsed().as_secs_f64());
    (kind, result)
}

/// The reply to a request that stored an event.
fn ack(reply: pb::AppendReply) -> Payload {
    let e = reply.event.unwrap_or_default();
    Payload::Ack(pb::SendAck {
        conversation_id: e.conversation_id,
        seq: e.seq,
        client_msg_id: e.client_msg_id,
        sent_at_ms: e.sent_at_ms,
        duplicate: reply.duplicate,
    })
}
