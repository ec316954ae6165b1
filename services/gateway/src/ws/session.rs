//! The life of one connection: authenticate within a deadline, register,
//! then read frames (rate limited) and answer them until it closes.

use super::close_codes as cc;
use super::conn::{CloseReason, ConnHandle, Limits};
use super::handshake::{self, Refusal};
use super::inbound::{Data, decode, read_error_reason, request_id};
use super::limiter::{FrameLimiter, Verdict};
use super::outbound::ConnBudget;
use super::presence;
use super::writer::run_writer;
use crate::Gateway;
use crate::admission::Admitted;
use crate::frames::error_frame;
use crate::requests::dispatch;
use axum::extract::ws::{Message, WebSocket};
use futures::StreamExt;
use parley_jwt::Claims;
use parley_proto::codec::Encoding;
use parley_proto::v1 as pb;
use std::ops::ControlFlow;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub(crate) async fn run(
    gw: Arc<Gateway>,
    mut socket: WebSocket,
    encoding: Encoding,
    admitted: Option<Arc<Admitted>>,
) {
    let (claims, auth_id) = match handshake::authenticate(&gw, &mut socket, encoding).await {
        Ok(c) => c,
        Err(refusal) => {
            metrics::counter!("parley_gateway_auth_failures_total").increment(1);
            return handshake::close(&mut socket, refusal).await;
        }
    };
    if let Some(a) = &admitted {
        a.authenticated();
    }
    let (tx, rx) = mpsc::channel(gw.config.outbound_queue.max(1));
    let budget = ConnBudget::new(
        gw.config.outbound_bytes_per_connection(),
        gw.outbound.clone(),
    );
    let limits = Limits {
        max_frame: gw.config.max_server_frame(),
        reply_wait: gw.config.idle_timeout(),
    };
    let conn = Arc::new(ConnHandle::new(
        claims.sub.clone(),
        claims.sid.clone(),
        encoding,
        tx,
        budget,
        limits,
    ));
    if gw.registry.add(conn.clone()).await.is_err() {
        let why = "too many open connections for this user";
        handshake::refuse(&mut socket, encoding, &auth_id, "too_many_connections", why).await;
        let refusal = Refusal {
            code: cc::TOO_MANY_CONNECTIONS,
            word: "too_many_connections",
        };
        return handshake::close(&mut socket, refusal).await;
    }
    metrics::gauge!("parley_gateway_connections").increment(1.0);
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(run_writer(
        sink,
        rx,
        conn.clone(),
        gw.config.ping_interval(),
    ));
    conn.reply(&authenticated(&gw, &claims, auth_id)).await;
    presence::attach(&gw, &conn).await;

    read_until_closed(&gw, &conn, stream).await;

    conn.close(conn.reason());
    let _ = writer.await;
    gw.registry.remove(&conn).await;
    metrics::gauge!("parley_gateway_connections").decrement(1.0);
    presence::detach(&gw, &conn).await;
}

fn authenticated(gw: &Gateway, claims: &Claims, id: String) -> pb::ServerFrame {
    pb::ServerFrame {
        id,
        payload: Some(pb::server_frame::Payload::Authenticated(
            pb::Authenticated {
                user_id: claims.sub.clone(),
                session_id: claims.sid.clone(),
                expires_at_ms: (claims.exp as i64) * 1000,
                rate_limit_per_sec: gw.config.rate_per_sec,
            },
        )),
    }
}

/// Reads and answers frames, one at a time and in order (so one device's
/// messages keep their order), until the client, the server or a limit
/// ends the connection.
async fn read_until_closed(
    gw: &Arc<Gateway>,
    conn: &ConnHandle,
    mut stream: futures::stream::SplitStream<WebSocket>,
) {
    let mut limiter = FrameLimiter::new(gw.config.rate_per_sec, gw.config.rate_burst);
    let mut last_heard = Instant::now();
    let idle = gw.config.idle_timeout();
    let mut idle_check = tokio::time::interval(idle / 4);
    let beat = gw.heartbeat_interval;
    let mut heartbeat = tokio::time::interval_at(Instant::now() + beat, beat);
    loop {
        tokio::select! {
            biased;
            _ = conn.closing().cancelled() => return,
            _ = gw.shutdown.cancelled() => return conn.close(CloseReason::Shutdown),
            _ = heartbeat.tick() => presence::heartbeat(gw, conn).await,
            _ = idle_check.tick() => {
                if last_heard.elapsed() > idle {
                    return conn.close(CloseReason::Idle);
                }
            }
            msg = stream.next() => {
                last_heard = Instant::now();
                if on_message(gw, conn, &mut limiter, msg).await.is_break() {
                    return;
                }
            }
        }
    }
}

/// Handles one read from the socket.
async fn on_message(
    gw: &Arc<Gateway>,
    conn: &ConnHandle,
    limiter: &mut FrameLimiter,
    msg: Option<Result<Message, axum::Error>>,
) -> ControlFlow<()> {
    let data = match msg {
        None | Some(Ok(Message::Close(_))) => return ControlFlow::Break(()),
        Some(Err(e)) => {
            if let Some(reason) = read_error_reason(e) {
                conn.close(reason);
            }
            return ControlFlow::Break(());
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => return ControlFlow::Continue(()),
        Some(Ok(Message::Text(t))) => Data::Text(t),
        Some(Ok(Message::Binary(b))) => Data::Binary(b),
    };
    metrics::counter!("parley_gateway_frames_in_total").increment(1);
    let reply = match limiter.check() {
        Verdict::Cut => {
            conn.close(CloseReason::RateLimited);
            return ControlFlow::Break(());
        }
        Verdict::Refuse(wait) => {
            let id = request_id(conn.encoding, &data);
            let retry = wait.as_millis().min(u32::MAX as u128) as u32;
            error_frame(&id, "rate_limited", "too many frames; slow down", retry)
        }
        Verdict::Allow => match decode(conn.encoding, &data) {
            Ok(frame) => dispatch(gw, conn, frame).await,
            Err(why) => error_frame(&request_id(conn.encoding, &data), "bad_frame", &why, 0),
        },
    };
    conn.reply(&reply).await;
    ControlFlow::Continue(())
}
