//! What the rest of the gateway holds of a live connection: its identity,
//! its outbound queue (bounded in frames and bytes) and its close switch.

use super::close_codes as cc;
use super::outbound::{ConnBudget, Queued, frame_len};
use crate::frames::error_frame;
use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;
use parley_proto::codec::{self, Encoded, Encoding};
use parley_proto::v1 as pb;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    ClientGone,
    Resync,
    Revoked,
    Shutdown,
    Idle,
    RateLimited,
    TooBig,
    InvalidUtf8,
}

impl CloseReason {
    pub(crate) fn code(self) -> u16 {
        match self {
            CloseReason::ClientGone => 1000,
            CloseReason::Resync => cc::RESYNC,
            CloseReason::Revoked => cc::REVOKED,
            CloseReason::Shutdown => cc::SHUTDOWN,
            CloseReason::Idle => cc::IDLE,
            CloseReason::RateLimited => cc::RATE_LIMITED,
            CloseReason::TooBig => cc::TOO_BIG,
            CloseReason::InvalidUtf8 => cc::INVALID_DATA,
        }
    }

    /// The reason word of the close frame and of the Goodbye frame.
    pub(crate) fn word(self) -> &'static str {
        match self {
            CloseReason::ClientGone => "bye",
            CloseReason::Resync => "resync",
            CloseReason::Revoked => "revoked",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Idle => "idle",
            CloseReason::RateLimited => "rate_limited",
            CloseReason::TooBig => "too_big",
            CloseReason::InvalidUtf8 => "invalid_utf8",
        }
    }
}

/// What bounds a connection's outbound side.
pub(crate) struct Limits {
    /// The largest frame the connection is sent; a reply that would be
    /// larger is answered with a `reply_too_large` error instead.
    pub(crate) max_frame: usize,
    /// How long a reply may wait for room in the queue before the client
    /// is taken as not reading.
    pub(crate) reply_wait: Duration,
}

pub(crate) struct ConnHandle {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) session_id: String,
    pub(crate) encoding: Encoding,
    tx: mpsc::Sender<Queued>,
    budget: ConnBudget,
    limits: Limits,
    closing: CancellationToken,
    reason: OnceLock<CloseReason>,
}

impl ConnHandle {
    pub(crate) fn new(
        user_id: String,
        session_id: String,
        encoding: Encoding,
        tx: mpsc::Sender<Queued>,
        budget: ConnBudget,
        limits: Limits,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            user_id,
            session_id,
            encoding,
            tx,
            budget,
            limits,
            closing: CancellationToken::new(),
            reason: OnceLock::new(),
        }
    }

    /// Queues a push without waiting: a full queue (by bytes or frames)
    /// means the client is not keeping up, and it is closed with "resync"
    /// rather than slowing anyone else down or holding memory for it.
    fn push(&self, msg: Message) {
        if frame_len(&msg) > self.limits.max_frame {
            // Cannot happen with the limits storage applies to events; if it
            // does, the client fetches the event by (paged) history.
            tracing::warn!(bytes = frame_len(&msg), "push over the frame cap");
            return self.close(CloseReason::Resync);
        }
        if self.budget.backlogged() {
            return self.slow_consumer();
        }
        let Some(queued) = self.budget.try_charge(msg) else {
            return self.slow_consumer();
        };
        match self.tx.try_send(queued) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.slow_consumer(),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn slow_consumer(&self) {
        metrics::counter!("parley_gateway_slow_consumers_total").increment(1);
        self.close(CloseReason::Resync);
    }

    /// Queues a push encoded once for every recipient.
    pub(crate) fn push_shared(&self, bytes: Bytes) {
        let msg = match self.encoding {
            Encoding::Proto => Message::Binary(bytes),
            Encoding::Json => match Utf8Bytes::try_from(bytes) {
                Ok(t) => Message::Text(t),
                Err(_) => return,
            },
        };
        self.push(msg);
    }

    /// Queues the reply to a request, waiting for room in the queue (so a
    /// client that does not read stops being read). A reply over the frame
    /// cap becomes a `reply_too_large` error with the same id: no frame the
    /// client cannot be sent is ever written.
    pub(crate) async fn reply(&self, frame: &pb::ServerFrame) {
        let mut msg = to_message(codec::encode_server(self.encoding, frame));
        if frame_len(&msg) > self.limits.max_frame {
            metrics::counter!("parley_gateway_replies_too_large_total").increment(1);
            tracing::warn!(bytes = frame_len(&msg), "reply over the frame cap");
            let why = "the reply would be larger than the largest frame; ask for a smaller page";
            let err = error_frame(&frame.id, "reply_too_large", why, 0);
            msg = to_message(codec::encode_server(self.encoding, &err));
        }
        let queue = async {
            let queued = self.budget.charge(msg).await?;
            self.tx.send(queued).await.ok()
        };
        tokio::select! {
            r = tokio::time::timeout(self.limits.reply_wait, queue) => {
                if r.is_err() {
                    self.slow_consumer();
                }
            }
            _ = self.closing.cancelled() => {}
        }
    }

    /// Asks the connection to close; the first reason wins.
    pub(crate) fn close(&self, reason: CloseReason) {
        let _ = self.reason.set(reason);
        self.closing.cancel();
    }

    pub(crate) fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    pub(crate) fn reason(&self) -> CloseReason {
        self.reason
            .get()
            .copied()
            .unwrap_or(CloseReason::ClientGone)
    }
}

pub(crate) fn to_message(e: Encoded) -> Message {
    match e {
        Encoded::Text(t) => Message::Text(t.into()),
        Encoded::Binary(b) => Message::Binary(b),
    }
}
