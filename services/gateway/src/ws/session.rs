//! The life of one connection: authenticate within a deadline, register,
//! then read frames (rate limited) and answer them until it closes.

use super::close_codes as cc;
use super::conn::{CloseReason, ConnHandle, to_message};
use super::writer::run_writer;
use crate::Gateway;
use crate::dispatch::{dispatch, error_frame};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::StreamExt;
use governor::{Quota, RateLimiter};
use parley_core::services::{FanoutApi, PresenceApi};
use parley_jwt::{Claims, TokenError};
use parley_proto::codec::{self, Encoding};
use parley_proto::v1 as pb;
use pb::client_frame::Request;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub(crate) async fn run(gw: Arc<Gateway>, mut socket: WebSocket, encoding: Encoding) {
    let (claims, auth_id) = match authenticate(&gw, &mut socket, encoding).await {
        Ok(c) => c,
        Err((code, word)) => {
            metrics::counter!("parley_gateway_auth_failures_total").increment(1);
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: word.into(),
                })))
                .await;
            return;
        }
    };
    let (tx, rx) = mpsc::channel(gw.config.outbound_queue.max(1));
    let conn = Arc::new(ConnHandle::new(
        claims.sub.clone(),
        claims.sid.clone(),
        encoding,
        tx,
    ));
    if gw.registry.add(conn.clone()).await.is_err() {
        let f = error_frame(
            &auth_id,
            "too_many_connections",
            "too many open connections for this user",
            0,
        );
        let _ = socket
            .send(to_message(codec::encode_server(encoding, &f)))
            .await;
        let close = CloseFrame {
            code: cc::TOO_MANY_CONNECTIONS,
            reason: "too_many_connections".into(),
        };
        let _ = socket.send(Message::Close(Some(close))).await;
        return;
    }
    metrics::gauge!("parley_gateway_connections").increment(1.0);
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(run_writer(
        sink,
        rx,
        conn.clone(),
        gw.config.ping_interval(),
    ));
    conn.push_frame(&pb::ServerFrame {
        id: auth_id,
        payload: Some(pb::server_frame::Payload::Authenticated(
            pb::Authenticated {
                user_id: claims.sub.clone(),
                session_id: claims.sid.clone(),
                expires_at_ms: (claims.exp as i64) * 1000,
                rate_limit_per_sec: gw.config.rate_per_sec,
            },
        )),
    });
    presence_attach(&gw, &conn).await;

    let limiter = RateLimiter::direct(
        Quota::per_second(NonZeroU32::new(gw.config.rate_per_sec.max(1)).expect("max(1)"))
            .allow_burst(NonZeroU32::new(gw.config.rate_burst.max(1)).expect("max(1)")),
    );
    // Refusals in a row before a flooding client is cut off.
    let max_strikes = gw.config.rate_burst.max(10);
    let mut strikes = 0u32;
    let mut last_heard = Instant::now();
    let idle = gw.config.idle_timeout();
    let mut idle_check = tokio::time::interval(idle / 4);
    let mut heartbeat = tokio::time::interval_at(
        Instant::now() + gw.heartbeat_interval,
        gw.heartbeat_interval,
    );
    loop {
        tokio::select! {
            biased;
            _ = conn.closing().cancelled() => break,
            _ = gw.shutdown.cancelled() => {
                conn.close(CloseReason::Shutdown);
                break;
            }
            _ = heartbeat.tick() => {
                let s = pb::PresenceSession { user_id: conn.user_id.clone(), connection_id: conn.id.clone() };
                if let Err(e) = gw.presence.heartbeat(s).await {
                    tracing::debug!(error = %e, "presence heartbeat failed");
                }
            }
            _ = idle_check.tick() => {
                if last_heard.elapsed() > idle {
                    conn.close(CloseReason::Idle);
                    break;
                }
            }
            msg = stream.next() => {
                let msg = match msg {
                    None => break,
                    Some(Err(e)) => {
                        // The only read error worth answering: a frame over the limit.
                        if is_too_big(e) {
                            conn.close(CloseReason::TooBig);
                        }
                        break;
                    }
                    Some(Ok(m)) => m,
                };
                last_heard = Instant::now();
                let data = match msg {
                    Message::Text(t) => Data::Text(t),
                    Message::Binary(b) => Data::Binary(b),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                metrics::counter!("parley_gateway_frames_in_total").increment(1);
                if let Err(not_until) = limiter.check() {
                    strikes += 1;
                    if strikes > max_strikes {
                        conn.close(CloseReason::RateLimited);
                        break;
                    }
                    let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
                    let f = error_frame(&request_id(encoding, &data), "rate_limited", "too many frames; slow down", wait.as_millis().max(1) as u32);
                    conn.push_frame(&f);
                    continue;
                }
                strikes = 0;
                let reply = match decode(encoding, &data) {
                    Ok(frame) => dispatch(&gw, &conn, frame).await,
                    Err(why) => Some(bad_frame(&why)),
                };
                if let Some(r) = reply {
                    conn.push_frame(&r);
                }
            }
        }
    }
    conn.close(conn.reason());
    let _ = writer.await;
    gw.registry.remove(&conn).await;
    metrics::gauge!("parley_gateway_connections").decrement(1.0);
    presence_detach(&gw, &conn).await;
}

fn is_too_big(e: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    matches!(
        e.into_inner().downcast_ref::<Error>(),
        Some(Error::Capacity(_))
    )
}

enum Data {
    Text(axum::extract::ws::Utf8Bytes),
    Binary(bytes::Bytes),
}

/// Decodes a client frame, or says why it is not one.
fn decode(encoding: Encoding, data: &Data) -> Result<pb::ClientFrame, String> {
    match (encoding, data) {
        (Encoding::Json, Data::Text(t)) => {
            codec::decode_client_json(t.as_str()).map_err(|e| e.to_string())
        }
        (Encoding::Proto, Data::Binary(b)) => {
            codec::decode_client_proto(b).map_err(|e| e.to_string())
        }
        (Encoding::Json, Data::Binary(_)) => Err("binary frame on the JSON subprotocol".into()),
        (Encoding::Proto, Data::Text(_)) => Err("text frame on the protobuf subprotocol".into()),
    }
}

fn bad_frame(why: &str) -> pb::ServerFrame {
    error_frame("", "bad_frame", why, 0)
}

/// Best-effort id of a frame being refused before dispatch.
fn request_id(encoding: Encoding, data: &Data) -> String {
    decode(encoding, data).map(|f| f.id).unwrap_or_default()
}

async fn refuse(socket: &mut WebSocket, encoding: Encoding, id: &str, code: &str, msg: &str) {
    let f = error_frame(id, code, msg, 0);
    let _ = socket
        .send(to_message(codec::encode_server(encoding, &f)))
        .await;
}

/// Waits for the authenticate frame. On failure, tells the client why and
/// returns the close code.
async fn authenticate(
    gw: &Gateway,
    socket: &mut WebSocket,
    encoding: Encoding,
) -> Result<(Claims, String), (u16, &'static str)> {
    let deadline = Instant::now() + gw.config.auth_timeout();
    let data = loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => {
                refuse(
                    socket,
                    encoding,
                    "",
                    "auth_timeout",
                    "authenticate within the deadline",
                )
                .await;
                return Err((cc::AUTH_TIMEOUT, "auth_timeout"));
            }
            Ok(None) | Ok(Some(Err(_))) => return Err((1000, "bye")),
            Ok(Some(Ok(Message::Text(t)))) => break Data::Text(t),
            Ok(Some(Ok(Message::Binary(b)))) => break Data::Binary(b),
            Ok(Some(Ok(Message::Close(_)))) => return Err((1000, "bye")),
            Ok(Some(Ok(_))) => continue,
        }
    };
    let frame = match decode(encoding, &data) {
        Ok(f) => f,
        Err(why) => {
            refuse(socket, encoding, "", "bad_frame", &why).await;
            return Err((cc::UNAUTHENTICATED, "unauthenticated"));
        }
    };
    let Some(Request::Authenticate(a)) = frame.request else {
        refuse(
            socket,
            encoding,
            &frame.id,
            "unauthenticated",
            "the first frame must be authenticate",
        )
        .await;
        return Err((cc::UNAUTHENTICATED, "unauthenticated"));
    };
    match gw.tokens.verify(&a.access_token).await {
        Ok(claims) => Ok((claims, frame.id)),
        Err(TokenError::Expired) => {
            refuse(
                socket,
                encoding,
                &frame.id,
                "token_expired",
                "access token expired; refresh it",
            )
            .await;
            Err((cc::UNAUTHENTICATED, "token_expired"))
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
            Err((cc::UNAUTHENTICATED, "unauthenticated"))
        }
    }
}

async fn presence_attach(gw: &Arc<Gateway>, conn: &ConnHandle) {
    let s = pb::PresenceSession {
        user_id: conn.user_id.clone(),
        connection_id: conn.id.clone(),
    };
    match gw.presence.attach(s).await {
        Ok(u) if u.changed => announce(gw, u.info),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "presence attach failed"),
    }
}

async fn presence_detach(gw: &Arc<Gateway>, conn: &ConnHandle) {
    let s = pb::PresenceSession {
        user_id: conn.user_id.clone(),
        connection_id: conn.id.clone(),
    };
    match gw.presence.detach(s).await {
        Ok(u) if u.changed => announce(gw, u.info),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "presence detach failed"),
    }
}

/// Tells the user's contacts, off the connection's path.
fn announce(gw: &Arc<Gateway>, info: Option<pb::PresenceInfo>) {
    let Some(info) = info else { return };
    let fanout = gw.fanout.clone();
    gw.tracker.spawn(async move {
        let r = tokio::time::timeout(Duration::from_secs(10), fanout.presence_changed(info)).await;
        if !matches!(r, Ok(Ok(_))) {
            tracing::debug!("presence change not announced");
        }
    });
}
