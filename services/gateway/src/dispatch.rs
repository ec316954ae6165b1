//! Answers one authenticated client request by calling the services.

use crate::Gateway;
use crate::ws::ConnHandle;
use parley_core::ids::validate_id;
use parley_core::services::{AuthApi, FanoutApi, PresenceApi, StorageApi};
use parley_core::{Caller, ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use pb::client_frame::Request;
use pb::server_frame::Payload;
use std::collections::HashSet;
use std::sync::Arc;

/// Longest request id a client may use.
const MAX_REQUEST_ID: usize = 64;
/// Most users one request may name.
const MAX_USERS_PER_REQUEST: usize = 200;

pub(crate) fn error_frame(
    id: &str,
    code: &str,
    message: &str,
    retry_after_ms: u32,
) -> pb::ServerFrame {
    pb::ServerFrame {
        id: id.to_string(),
        payload: Some(Payload::Error(pb::Error {
            code: code.into(),
            message: message.into(),
            retry_after_ms,
        })),
    }
}

/// Handles a frame; returns the reply to queue (every request has one).
pub(crate) async fn dispatch(
    gw: &Arc<Gateway>,
    conn: &ConnHandle,
    frame: pb::ClientFrame,
) -> Option<pb::ServerFrame> {
    let id = frame.id;
    if id.len() > MAX_REQUEST_ID {
        return Some(error_frame(
            "",
            "invalid_argument",
            "request id is longer than 64 bytes",
            0,
        ));
    }
    let Some(request) = frame.request else {
        return Some(error_frame(
            &id,
            "unknown_request",
            "unknown or missing request type",
            0,
        ));
    };
    let kind = request_kind(&request);
    let started = std::time::Instant::now();
    let span = tracing::info_span!("request", kind, user = %conn.user_id);
    let result = tracing::Instrument::instrument(handle(gw, conn, request), span).await;
    metrics::histogram!("parley_gateway_request_seconds", "request" => kind)
        .record(started.elapsed().as_secs_f64());
    Some(match result {
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
    })
}

fn request_kind(r: &Request) -> &'static str {
    match r {
        Request::Authenticate(_) => "authenticate",
        Request::CreateDirect(_) => "create_direct",
        Request::CreateGroup(_) => "create_group",
        Request::AddMembers(_) => "add_members",
        Request::RemoveMember(_) => "remove_member",
        Request::Send(_) => "send",
        Request::Sync(_) => "sync",
        Request::History(_) => "history",
        Request::MarkRead(_) => "mark_read",
        Request::Typing(_) => "typing",
        Request::GetConversation(_) => "get_conversation",
        Request::LookupUsers(_) => "lookup_users",
        Request::QueryPresence(_) => "query_presence",
        Request::Ping(_) => "ping",
    }
}

async fn handle(gw: &Arc<Gateway>, conn: &ConnHandle, request: Request) -> ServiceResult<Payload> {
    let me = conn.user_id.clone();
    let caller = Caller::user(&conn.user_id)?.to_proto();
    match request {
        Request::Authenticate(a) => {
            // A live connection may present a fresh token for its own session.
            let claims = gw
                .tokens
                .verify(&a.access_token)
                .await
                .map_err(|e| ServiceError::Unauthenticated(e.to_string()))?;
            if claims.sub != conn.user_id || claims.sid != conn.session_id {
                return Err(ServiceError::PermissionDenied(
                    "a connection stays with its session".into(),
                ));
            }
            Ok(Payload::Authenticated(pb::Authenticated {
                user_id: claims.sub,
                session_id: claims.sid,
                expires_at_ms: (claims.exp as i64) * 1000,
                rate_limit_per_sec: gw.config.rate_per_sec,
            }))
        }
        Request::CreateDirect(d) => {
            require_users(gw, std::slice::from_ref(&d.user_id)).await?;
            let req = pb::CreateConversationRequest {
                caller,
                kind: pb::ConversationKind::Direct as i32,
                title: String::new(),
                member_ids: vec![d.user_id],
                ..Default::default()
            };
            Ok(Payload::Conversation(
                gw.storage.create_conversation(req).await?,
            ))
        }
        Request::CreateGroup(g) => {
            require_users(gw, &g.member_ids).await?;
            let req = pb::CreateConversationRequest {
                caller,
                kind: pb::ConversationKind::Group as i32,
                title: g.title,
                member_ids: g.member_ids,
                ..Default::default()
            };
            Ok(Payload::Conversation(
                gw.storage.create_conversation(req).await?,
            ))
        }
        Request::AddMembers(a) => {
            require_users(gw, &a.user_ids).await?;
            let req = pb::AddMembersRequest {
                conversation_id: a.conversation_id,
                caller,
                user_ids: a.user_ids,
                role: a.role,
            };
            Ok(ack(gw.storage.add_members(req).await?))
        }
        Request::RemoveMember(r) => {
            let req = pb::RemoveMemberRequest {
                conversation_id: r.conversation_id,
                caller,
                user_id: r.user_id,
            };
            Ok(ack(gw.storage.remove_member(req).await?))
        }
        Request::Send(s) => {
            let reply = gw
                .storage
                .append(pb::AppendRequest {
                    caller,
                    send: Some(s),
                })
                .await?;
            metrics::counter!("parley_gateway_sends_total").increment(1);
            Ok(ack(reply))
        }
        Request::Sync(_) => Ok(Payload::Sync(
            gw.storage.sync(pb::CallerRequest { caller }).await?,
        )),
        Request::History(h) => {
            let req = pb::UserHistoryRequest {
                caller,
                request: Some(h),
            };
            Ok(Payload::History(gw.storage.history(req).await?))
        }
        Request::MarkRead(m) => {
            let req = pb::MarkReadRequest {
                conversation_id: m.conversation_id,
                caller,
                seq: m.seq,
            };
            let state = gw.storage.mark_read(req).await?;
            let signal = pb::ReceiptSignal {
                conversation_id: state.conversation_id.clone(),
                user_id: state.user_id.clone(),
                read_seq: state.read_seq,
            };
            let fanout = gw.fanout.clone();
            gw.tracker.spawn(async move {
                if let Err(e) = fanout.receipt(signal).await {
                    tracing::debug!(error = %e, "receipt not delivered");
                }
            });
            Ok(Payload::Read(pb::ReadAck {
                conversation_id: state.conversation_id,
                read_seq: state.read_seq,
            }))
        }
        Request::Typing(t) => {
            gw.fanout
                .typing(pb::TypingSignal {
                    conversation_id: t.conversation_id,
                    user_id: me,
                })
                .await?;
            Ok(Payload::Ok(pb::Empty {}))
        }
        Request::GetConversation(g) => {
            let req = pb::ConversationRequest {
                conversation_id: g.conversation_id,
                caller,
            };
            Ok(Payload::Conversation(
                gw.storage.get_conversation(req).await?,
            ))
        }
        Request::LookupUsers(l) => {
            let req = pb::LookupUsersRequest {
                usernames: l.usernames,
                user_ids: l.user_ids,
            };
            Ok(Payload::Users(pb::UsersReply {
                users: gw.auth.lookup_users(req).await?.users,
            }))
        }
        Request::QueryPresence(q) => {
            if q.user_ids.len() > MAX_USERS_PER_REQUEST {
                return Err(ServiceError::InvalidArgument(format!(
                    "at most {MAX_USERS_PER_REQUEST} users per query"
                )));
            }
            // Presence is visible only between people who share a conversation.
            let contacts: HashSet<String> = gw
                .storage
                .contacts(pb::CallerRequest { caller })
                .await?
                .user_ids
                .into_iter()
                .collect();
            let visible: Vec<String> = q
                .user_ids
                .into_iter()
                .filter(|u| *u == me || contacts.contains(u))
                .collect();
            let users = gw
                .presence
                .query(pb::PresenceQuery { user_ids: visible })
                .await?
                .users;
            Ok(Payload::Presence(pb::PresenceReply { users }))
        }
        Request::Ping(p) => Ok(Payload::Pong(pb::Pong { nonce: p.nonce })),
    }
}

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

/// Refuses requests that name users who do not exist.
async fn require_users(gw: &Gateway, ids: &[String]) -> ServiceResult<()> {
    if ids.len() > MAX_USERS_PER_REQUEST {
        return Err(ServiceError::InvalidArgument(format!(
            "at most {MAX_USERS_PER_REQUEST} users per request"
        )));
    }
    for id in ids {
        validate_id("user_id", id)?;
    }
    let wanted: HashSet<&String> = ids.iter().collect();
    let found = gw
        .auth
        .lookup_users(pb::LookupUsersRequest {
            usernames: vec![],
            user_ids: ids.to_vec(),
        })
        .await?
        .users;
    let found: HashSet<&String> = found.iter().map(|u| &u.id).collect();
    if let Some(missing) = wanted.iter().find(|u| !found.contains(**u)) {
        return Err(ServiceError::NotFound(format!("user {missing}")));
    }
    Ok(())
}
