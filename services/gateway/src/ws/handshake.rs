//! Before a connection is registered: the authenticate frame within the
//! deadline, and the refusals (with the reason) when it does not come.

use super::close_codes as cc;
use super::conn::to_message;
use super::inbound::{Data, decode, read_error_reason, request_id};
use crate::Gateway;
use crate::frames::error_frame;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use parley_jwt::{Claims, TokenError};
use parley_proto::codec::{self, Encoding};
use parley_proto::v1 as pb;
use pb::client_frame::Request;
use tokio::time::Instant;

/// Why a connection is closed before it is registered.
pub(crate) struct Refusal {
    pub(crate) code: u16,
    pub(crate) word: &'static str,
}

/// Sends an error frame (before closing).
pub(crate) async fn refuse(
    socket: &mut WebSocket,
    encoding: Encoding,
    id: &str,
    code: &str,
    msg: &str,
) {
    let f = error_frame(id, code, msg, 0);
    let _ = socket
        .send(to_message(codec::encode_server(encoding, &f)))
        .await;
}

/// Closes a connection that was refused.
pub(crate) async fn close(socket: &mut WebSocket, refusal: Refusal) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: refusal.code,
            reason: refusal.word.into(),
        })))
        .await;
}

/// Waits for the authenticate frame; returns the token's claims and the
/// frame's request id. On failure the client has been told why.
pub(crate) async fn authenticate(
    gw: &Gateway,
    socket: &mut WebSocket,
    encoding: Encoding,
) -> Result<(Claims, String), Refusal> {
    let bye = Refusal {
        code: 1000,
        word: "bye",
    };
    let unauthenticated = |word| Refusal {
        code: cc::UNAUTHENTICATED,
        word,
    };
    let deadline = Instant::now() + gw.config.auth_timeout();
    let data = loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => {
                let why = "authenticate within the deadline";
                refuse(socket, encoding, "", "auth_timeout", why).await;
                return Err(Refusal {
                    code: cc::AUTH_TIMEOUT,
                    word: "auth_timeout",
                });
            }
            Ok(Some(Err(e))) => {
                return Err(match read_error_reason(e) {
                    Some(reason) => Refusal {
                        code: reason.code(),
                        word: reason.word(),
                    },
                    None => bye,
                });
            }
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => return Err(bye),
            Ok(Some(Ok(Message::Text(t)))) => break Data::Text(t),
            Ok(Some(Ok(Message::Binary(b)))) => break Data::Binary(b),
            Ok(Some(Ok(_))) => continue,
        }
    };
    let frame = match decode(encoding, &data) {
        Ok(f) => f,
        Err(why) => {
            refuse(
                socket,
                encoding,
                &request_id(encoding, &data),
                "bad_frame",
                &why,
            )
            .await;
            return Err(unauthenticated("unauthenticated"));
        }
    };
    let Some(Request::Authenticate(a)) = frame.request else {
        let why = "the first frame must be authenticate";
        refuse(socket, encoding, &frame.id, "unauthenticated", why).await;
        return Err(unauthenticated("unauthenticated"));
    };
    match gw.tokens.verify(&a.access_token).await {
        Ok(claims) => Ok((claims, frame.id)),
        Err(TokenError::Expired) => {
            let why = "access token expired; refresh it";
            refuse(socket, encoding, &frame.id, "token_expired", why).await;
            Err(unauthenticated("token_expired"))
        }
        Err(e) => {
            refuse(
                socket,
                encoding,
                &frame.id,
                "unauthenticated",
                &e.to_string(),
            )
            .await;
            Err(unauthenticated("unauthenticated"))
        }
    }
}
