//! What the rest of the gateway holds of a live connection: its identity,
//! its bounded outbound queue and its close switch.

use super::close_codes as cc;
use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;
use parley_proto::codec::{self, Encoded, Encoding};
use parley_proto::v1 as pb;
use std::sync::OnceLock;
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
        }
    }
}

pub(crate) struct ConnHandle {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) session_id: String,
    pub(crate) encoding: Encoding,
    tx: mpsc::Sender<Message>,
    closing: CancellationToken,
    reason: OnceLock<CloseReason>,
}

impl ConnHandle {
    pub(crate) fn new(
        user_id: String,
        session_id: String,
        encoding: Encoding,
        tx: mpsc::Sender<Message>,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            user_id,
            session_id,
            encoding,
            tx,
            closing: CancellationToken::new(),
            reason: OnceLock::new(),
        }
    }

    /// Queues a frame without waiting: a full queue means the client is not
    /// keeping up, and it is closed with "resync" rather than slowing
    /// anyone else down.
    pub(crate) fn push(&self, msg: Message) {
        match self.tx.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("parley_gateway_slow_consumers_total").increment(1);
                self.close(CloseReason::Resync);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    pub(crate) fn push_frame(&self, frame: &pb::ServerFrame) {
        self.push(to_message(codec::encode_server(self.encoding, frame)));
    }

    /// Queues a frame encoded once for every recipient.
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
