//! The client's public API: configuration, login, requests, the outbox.
//! The connection supervisor is in `supervisor.rs`, catching up and
//! ordering live events in `catch_up.rs`.

use crate::SdkError;
use crate::conn::{Conn, PushHandler};
use crate::http::{self, Tokens};
use crate::timeline::Timeline;
use parking_lot::Mutex;
use parley_proto::codec::Encoding;
use parley_proto::v1 as pb;
use pb::client_frame::Request;
use pb::server_frame::Payload;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. "http://127.0.0.1:8080"
    pub base_url: String,
    /// Other gateways of the same deployment, tried in turn when the
    /// current one cannot be reached or is shutting down.
    pub fallback_urls: Vec<String>,
    pub encoding: Encoding,
    pub device_name: String,
    pub request_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            fallback_urls: Vec::new(),
            encoding: Encoding::Proto,
            device_name: "parley-sdk".into(),
            request_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
        }
    }

    /// The `n`th gateway URL, round robin.
    pub(crate) fn url(&self, n: usize) -> &str {
        let count = 1 + self.fallback_urls.len();
        match n % count {
            0 => &self.base_url,
            i => self.fallback_urls[i - 1].trim_end_matches('/'),
        }
    }
}

pub(crate) fn ws_url(base: &str) -> String {
    let rest = base.strip_prefix("http").unwrap_or(base);
    format!("ws{rest}/v1/ws")
}

/// What the client tells the application.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Connected,
    /// The connection dropped; the client reconnects by itself.
    Disconnected {
        close_code: Option<u16>,
    },
    /// A timeline event, in seq order per conversation, exactly once.
    Event(pb::Event),
    Typing(pb::TypingPush),
    Presence(pb::PresenceInfo),
    Receipt(pb::ReceiptPush),
    /// The user's own settings of a conversation changed (on any device).
    SettingsChanged(pb::SettingsReply),
    /// You were invited to a group (answer with `Client::respond`).
    Invited(pb::Invitation),
    /// An invitation of yours was answered (on any device) or withdrawn.
    InvitationGone(pb::InvitationGone),
    /// The session was revoked: the client stopped; log in again.
    Revoked,
}

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    /// Which gateway URL is in use (see `ClientConfig::url`).
    pub(crate) gateway: std::sync::atomic::AtomicUsize,
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: Mutex<Tokens>,
    /// Held while tokens are refreshed (by reconnects and account requests).
    pub(crate) refreshing: tokio::sync::Mutex<()>,
    pub(crate) conn: watch::Sender<Option<Arc<Conn>>>,
    pub(crate) timelines: Mutex<HashMap<String, Timeline>>,
    /// Highest seq a gap pull is already fetching, per conversation.
    pub(crate) pulling: Mutex<HashMap<String, u64>>,
    /// Sends not acknowledged yet, by client_msg_id.
    pub(crate) outbox: Mutex<BTreeMap<String, pb::Send>>,
    pub(crate) events: mpsc::UnboundedSender<ClientEvent>,
    pub(crate) stop: CancellationToken,
}

/// A logged-in Parley client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("user_id", &self.user_id())
            .finish()
    }
}

impl Client {
    /// Logs in and connects; returns once the first connection is up.
    pub async fn login(
        config: ClientConfig,
        username: &str,
        password: &str,
    ) -> Result<(Client, mpsc::UnboundedReceiver<ClientEvent>), SdkError> {
        let http = reqwest::Client::new();
        let tokens = http::login(
            &http,
            &config.base_url,
            username,
            password,
            &config.device_name,
        )
        .await?;
        Self::with_tokens(config, tokens).await
    }

    /// Connects with tokens obtained earlier (e.g. restored from storage).
    pub async fn with_tokens(
        config: ClientConfig,
        tokens: Tokens,
    ) -> Result<(Client, mpsc::UnboundedReceiver<ClientEvent>), SdkError> {
        let (events, rx) = mpsc::unbounded_channel();
        let (conn, _) = watch::channel(None);
        let inner = Arc::new(Inner {
            config,
            gateway: std::sync::atomic::AtomicUsize::new(0),
            http: reqwest::Client::new(),
            tokens: Mutex::new(tokens),
            refreshing: Default::default(),
            conn,
            timelines: Mutex::new(HashMap::new()),
            pulling: Mutex::new(HashMap::new()),
            outbox: Mutex::new(BTreeMap::new()),
            events,
            stop: CancellationToken::new(),
        });
        let client = Client { inner };
        // Pushes are handled on each connection's reader task, not handed
        // to another task: one wake-up per delivery instead of two.
        let handler = client.clone();
        let pushes: PushHandler = Arc::new(move |frame| handler.handle_push(frame));
        let mut watcher = client.inner.conn.subscribe();
        tokio::spawn(client.clone().manage(pushes));
        // Wait for the first connection (or for the manager to give up).
        let first = tokio::time::timeout(
            client.inner.config.request_timeout,
            watcher.wait_for(|c| c.is_some()),
        )
        .await;
        match first {
            Ok(Ok(_)) => Ok((client, rx)),
            _ if client.inner.stop.is_cancelled() => Err(SdkError::Revoked),
            _ => Err(SdkError::Disconnected),
        }
    }

    pub fn user_id(&self) -> String {
        self.inner.tokens.lock().user_id.clone()
    }

    pub fn session_id(&self) -> String {
        self.inner.tokens.lock().session_id.clone()
    }

    pub fn tokens(&self) -> Tokens {
        self.inner.tokens.lock().clone()
    }

    /// Highest seq of `conv` delivered to the application so far.
    pub fn delivered(&self, conv: &str) -> u64 {
        self.inner
            .timelines
            .lock()
            .get(conv)
            .map_or(0, Timeline::delivered)
    }

    /// client_msg_ids of sends not acknowledged yet.
    pub fn pending_sends(&self) -> Vec<String> {
        self.inner.outbox.lock().keys().cloned().collect()
    }

    pub fn is_connected(&self) -> bool {
        self.inner.conn.borrow().is_some()
    }

    /// Stops the client and closes its connection.
    pub fn close(&self) {
        self.inner.stop.cancel();
        if let Some(c) = self.inner.conn.borrow().as_ref() {
            c.shutdown();
        }
    }

    /// Drops the current connection as if the network failed (the client
    /// reconnects by itself). Meant for tests and for apps that detect a
    /// network change.
    pub fn drop_connection(&self) {
        if let Some(c) = self.inner.conn.borrow().as_ref() {
            c.shutdown();
        }
    }

    async fn current_conn(&self) -> Result<Arc<Conn>, SdkError> {
        let mut rx = self.inner.conn.subscribe();
        tokio::select! {
            _ = self.inner.stop.cancelled() => Err(SdkError::Closed),
            c = rx.wait_for(|c| c.as_ref().is_some_and(|c| !c.closed.is_cancelled())) => {
                c.map_err(|_| SdkError::Closed).map(|c| c.clone().expect("checked"))
            }
        }
    }

    /// Sends one request on the current connection (no retry).
    pub async fn request(&self, request: Request) -> Result<Payload, SdkError> {
        let conn = self.current_conn().await?;
        let frame = conn
            .request(request, self.inner.config.request_timeout)
            .await?;
        match frame.payload {
            Some(Payload::Error(e)) => Err(SdkError::Server {
                code: e.code,
                message: e.message,
                retry_after_ms: e.retry_after_ms,
            }),
            Some(p) => Ok(p),
            None => Err(SdkError::Protocol("empty reply".into())),
        }
    }

    /// Sends an idempotent request, again after every reconnect, until it
    /// gets an answer.
    pub(crate) async fn request_retrying(&self, request: Request) -> Result<Payload, SdkError> {
        loop {
            match self.request(request.clone()).await {
                Err(SdkError::Disconnected) => continue,
                other => return other,
            }
        }
    }

    pub(crate) fn emit(&self, e: ClientEvent) {
        let _ = self.inner.events.send(e);
    }
}

/// A fresh idempotency key.
pub fn new_client_msg_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
