//! One writer task per connection: it drains everything queued into one
//! flush (one syscall for many frames under load) and sends keepalive pings.

use super::conn::{CloseReason, ConnHandle};
use super::outbound::Queued;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::SinkExt;
use futures::stream::SplitSink;
use parley_proto::v1 as pb;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Most frames written between two flushes.
const MAX_BATCH: usize = 64;
/// Time a closing connection gets to take its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub(crate) async fn run_writer(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Queued>,
    conn: Arc<ConnHandle>,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    // Made once: a new `cancelled()` per message registered with the
    // token's lock every time (~2% of a loaded gateway).
    let closed = conn.closing().cancelled();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            biased;
            _ = &mut closed => break,
            msg = rx.recv() => {
                let Some(first) = msg else { break };
                if write_batch(&mut sink, first, &mut rx).await.is_err() {
                    conn.close(CloseReason::ClientGone);
                    return;
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    conn.close(CloseReason::ClientGone);
                    return;
                }
            }
        }
    }
    let reason = conn.reason();
    if reason == CloseReason::ClientGone {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        // A slow consumer's backlog is dropped (it will sync); otherwise
        // what was queued still goes out before the goodbye.
        if reason != CloseReason::Resync {
            while let Ok(q) = rx.try_recv() {
                sink.feed(q.msg).await?;
            }
        }
        let bye = pb::ServerFrame {
            id: String::new(),
            payload: Some(pb::server_frame::Payload::Goodbye(pb::Goodbye {
                reason: reason.word().into(),
            })),
        };
        sink.feed(super::conn::to_message(parley_proto::codec::encode_server(
            conn.encoding,
            &bye,
        )))
        .await?;
        sink.send(Message::Close(Some(CloseFrame {
            code: reason.code(),
            reason: reason.word().into(),
        })))
        .await
    })
    .await;
}

/// Writes what is queued (up to a batch) and flushes once; the frames'
/// charges are returned after the flush, so bytes waiting in the
/// WebSocket's own buffer still count against the budgets.
async fn write_batch(
    sink: &mut SplitSink<WebSocket, Message>,
    first: Queued,
    rx: &mut mpsc::Receiver<Queued>,
) -> Result<(), axum::Error> {
    let mut charge = first.charge;
    sink.feed(first.msg).await?;
    let mut n = 1;
    while n < MAX_BATCH {
        match rx.try_recv() {
            Ok(q) => {
                charge.absorb(q.charge);
                sink.feed(q.msg).await?;
                n += 1;
            }
            Err(_) => break,
        }
    }
    metrics::counter!("parley_gateway_frames_out_total").increment(n as u64);
    let flushed = sink.flush().await;
    drop(charge);
    flushed
}
