//! One WebSocket connection: authenticate, then match replies to requests
//! by id and hand pushes to the client.

use crate::SdkError;
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use parley_proto::codec::{self, Encoded, Encoding};
use parley_proto::v1 as pb;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

pub(crate) struct Conn {
    out: mpsc::UnboundedSender<Message>,
    pending: Mutex<HashMap<String, oneshot::Sender<pb::ServerFrame>>>,
    pub(crate) closed: CancellationToken,
    close: OnceLock<(u16, String)>,
    encoding: Encoding,
    next_id: AtomicU64,
}

#[derive(Debug)]
pub(crate) enum ConnectError {
    /// The server refused the token (code from its error frame).
    Auth(String),
    Io(String),
}

fn to_message(e: Encoded) -> Message {
    match e {
        Encoded::Text(t) => Message::Text(t.into()),
        Encoded::Binary(b) => Message::Binary(b),
    }
}

fn decode(encoding: Encoding, msg: &Message) -> Option<pb::ServerFrame> {
    match (encoding, msg) {
        (Encoding::Json, Message::Text(t)) => codec::decode_server_json(t.as_str()).ok(),
        (Encoding::Proto, Message::Binary(b)) => codec::decode_server_proto(b).ok(),
        _ => None,
    }
}

/// Called by a connection's reader for every push (a frame without a
/// request id), in the order received. Runs on the reader task: it must not
/// block (the client's handler updates timelines and queues events).
pub(crate) type PushHandler = Arc<dyn Fn(pb::ServerFrame) + Send + Sync>;

impl Conn {
    /// Connects, authenticates and starts the reader and writer tasks.
    pub(crate) async fn open(
        ws_url: &str,
        access_token: &str,
        encoding: Encoding,
        pushes: PushHandler,
        timeout: Duration,
    ) -> Result<(Arc<Conn>, pb::Authenticated), ConnectError> {
        let mut req = ws_url
            .into_client_request()
            .map_err(|e| ConnectError::Io(e.to_string()))?;
        req.headers_mut().insert(
            "sec-websocket-protocol",
            encoding
                .subprotocol()
                .parse()
                .map_err(|_| ConnectError::Io("bad subprotocol".into()))?,
        );
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0);
        let connect = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
        let (mut ws, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| ConnectError::Io("connect timed out".into()))?
            .map_err(|e| ConnectError::Io(e.to_string()))?;
        let auth = pb::ClientFrame {
            id: "auth".into(),
            request: Some(pb::client_frame::Request::Authenticate(pb::Authenticate {
                access_token: access_token.into(),
            })),
        };
        ws.send(to_message(codec::encode_client(encoding, &auth)))
            .await
            .map_err(|e| ConnectError::Io(e.to_string()))?;
        let reply = loop {
            let next = tokio::time::timeout(timeout, ws.next())
                .await
                .map_err(|_| ConnectError::Io("no auth reply".into()))?;
            match next {
                Some(Ok(m)) => {
                    if let Some(f) = decode(encoding, &m) {
                        break f;
                    }
                    if let Message::Close(c) = m {
                        return Err(ConnectError::Auth(
                            c.map(|c| c.reason.to_string()).unwrap_or_default(),
                        ));
                    }
                }
                Some(Err(e)) => return Err(ConnectError::Io(e.to_string())),
                None => return Err(ConnectError::Io("closed during auth".into())),
            }
        };
        let authenticated = match reply.payload {
            Some(pb::server_frame::Payload::Authenticated(a)) => a,
            Some(pb::server_frame::Payload::Error(e)) => return Err(ConnectError::Auth(e.code)),
            other => return Err(ConnectError::Io(format!("unexpected auth reply {other:?}"))),
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let conn = Arc::new(Conn {
            out: tx,
            pending: Mutex::new(HashMap::new()),
            closed: CancellationToken::new(),
            close: OnceLock::new(),
            encoding,
            next_id: AtomicU64::new(1),
        });
        let (mut sink, mut stream) = ws.split();
        let writer_conn = conn.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = writer_conn.closed.cancelled() => break,
                    m = rx.recv() => match m {
                        Some(m) => if sink.send(m).await.is_err() { break },
                        None => break,
                    },
                }
            }
            let _ = sink.close().await;
            writer_conn.closed.cancel();
        });
        let reader_conn = conn.clone();
        tokio::spawn(async move {
            loop {
                let m = tokio::select! {
                    _ = reader_conn.closed.cancelled() => break,
                    m = stream.next() => m,
                };
                match m {
                    Some(Ok(Message::Close(c))) => {
                        let _ = reader_conn.close.set(
                            c.map(|c| (u16::from(c.code), c.reason.to_string()))
                                .unwrap_or((1005, String::new())),
                        );
                        break;
                    }
                    Some(Ok(m)) => {
                        let Some(f) = decode(encoding, &m) else {
                            continue;
                        };
                        if f.id.is_empty() {
                            pushes(f);
                        } else if let Some(tx) = reader_conn.pending.lock().remove(&f.id) {
                            let _ = tx.send(f);
                        }
                    }
                    Some(Err(_)) | None => break,
                }
            }
            reader_conn.closed.cancel();
            // Dropping the waiters tells them the connection is gone.
            reader_conn.pending.lock().clear();
        });
        Ok((conn, authenticated))
    }

    /// Sends a request and waits for its reply.
    pub(crate) async fn request(
        &self,
        request: pb::client_frame::Request,
        timeout: Duration,
    ) -> Result<pb::ServerFrame, SdkError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id.clone(), tx);
        let frame = pb::ClientFrame {
            id: id.clone(),
            request: Some(request),
        };
        if self
            .out
            .send(to_message(codec::encode_client(self.encoding, &frame)))
            .is_err()
        {
            self.pending.lock().remove(&id);
            return Err(SdkError::Disconnected);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(_)) => Err(SdkError::Disconnected),
            Err(_) => {
                self.pending.lock().remove(&id);
                Err(SdkError::Timeout)
            }
        }
    }

    /// The close code the server sent, if any.
    pub(crate) fn close_code(&self) -> Option<u16> {
        self.close.get().map(|(c, _)| *c)
    }

    pub(crate) fn shutdown(&self) {
        self.closed.cancel();
    }
}
