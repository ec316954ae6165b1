//! The long-lived client: connection manager, requests, outbox, catch-up.

use crate::SdkError;
use crate::conn::{Conn, ConnectError, PushHandler};
use crate::http::{self, Tokens};
use crate::timeline::Timeline;
use parking_lot::Mutex;
use parley_proto::codec::Encoding;
use parley_proto::v1 as pb;
use pb::client_frame::Request;
use pb::server_frame::Payload;
use rand::Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Close codes the client reacts to (docs/protocol.md).
const CLOSE_UNAUTHENTICATED: u16 = 4401;
const CLOSE_REVOKED: u16 = 4403;
const CLOSE_SHUTDOWN: u16 = 1012;
/// Most events delivered from before the point where a client first saw a
/// conversation; older history is for the app to load with `history`.
pub const BACKFILL: u64 = 200;
/// Sends retried while the server answers `unavailable`, before giving up.
const SEND_ATTEMPTS: u32 = 15;
/// Refresh the access token when it expires sooner than this.
const REFRESH_MARGIN_MS: i64 = 60_000;

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
    fn url(&self, n: usize) -> &str {
        let count = 1 + self.fallback_urls.len();
        match n % count {
            0 => &self.base_url,
            i => self.fallback_urls[i - 1].trim_end_matches('/'),
        }
    }
}

fn ws_url(base: &str) -> String {
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
    /// The session was revoked: the client stopped; log in again.
    Revoked,
}

struct Inner {
    config: ClientConfig,
    /// Which gateway URL is in use (see `ClientConfig::url`).
    gateway: std::sync::atomic::AtomicUsize,
    http: reqwest::Client,
    tokens: Mutex<Tokens>,
    conn: watch::Sender<Option<Arc<Conn>>>,
    timelines: Mutex<HashMap<String, Timeline>>,
    /// Highest seq a gap pull is already fetching, per conversation.
    pulling: Mutex<HashMap<String, u64>>,
    /// Sends not acknowledged yet, by client_msg_id.
    outbox: Mutex<BTreeMap<String, pb::Send>>,
    events: mpsc::UnboundedSender<ClientEvent>,
    stop: CancellationToken,
}

/// A logged-in Parley client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
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
    async fn request_retrying(&self, request: Request) -> Result<Payload, SdkError> {
        loop {
            match self.request(request.clone()).await {
                Err(SdkError::Disconnected) => continue,
                other => return other,
            }
        }
    }

    /// Sends through the outbox: retried with the same client_msg_id until
    /// acknowledged, across reconnects.
    pub async fn send(&self, send: pb::Send) -> Result<pb::SendAck, SdkError> {
        let key = send.client_msg_id.clone();
        self.inner.outbox.lock().insert(key.clone(), send.clone());
        // Retried, with the same client_msg_id, across reconnects, while
        // the server reports itself unavailable, and after the wait a rate
        // limit asks for: it can only be stored once.
        let mut backoff = Duration::from_millis(100);
        let mut attempts = 0;
        let result = loop {
            match self.request_retrying(Request::Send(send.clone())).await {
                Err(SdkError::Server {
                    code,
                    retry_after_ms,
                    ..
                }) if code == "rate_limited" && attempts < SEND_ATTEMPTS * 10 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(retry_after_ms.max(10))))
                        .await;
                }
                Err(SdkError::Server { code, .. })
                    if code == "unavailable" && attempts < SEND_ATTEMPTS =>
                {
                    attempts += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                other => break other,
            }
        };
        self.inner.outbox.lock().remove(&key);
        match result? {
            Payload::Ack(a) => Ok(a),
            other => Err(SdkError::Protocol(format!("expected ack, got {other:?}"))),
        }
    }

    pub async fn send_text(
        &self,
        conversation_id: &str,
        text: &str,
    ) -> Result<pb::SendAck, SdkError> {
        self.send(pb::Send {
            conversation_id: conversation_id.into(),
            client_msg_id: new_client_msg_id(),
            body: Some(pb::send::Body::Message(pb::MessageBody {
                text: text.into(),
                reply_to_seq: 0,
            })),
        })
        .await
    }

    pub async fn create_direct(&self, user_id: &str) -> Result<pb::Conversation, SdkError> {
        conversation(
            self.request_retrying(Request::CreateDirect(pb::CreateDirect {
                user_id: user_id.into(),
            }))
            .await?,
        )
    }

    /// Not retried on its own: a group created twice is two groups.
    pub async fn create_group(
        &self,
        title: &str,
        member_ids: &[String],
    ) -> Result<pb::Conversation, SdkError> {
        let r = Request::CreateGroup(pb::CreateGroup {
            title: title.into(),
            member_ids: member_ids.to_vec(),
        });
        conversation(self.request(r).await?)
    }

    pub async fn add_members(
        &self,
        conversation_id: &str,
        user_ids: &[String],
        role: pb::Role,
    ) -> Result<pb::SendAck, SdkError> {
        let r = Request::AddMembers(pb::AddMembers {
            conversation_id: conversation_id.into(),
            user_ids: user_ids.to_vec(),
            role: role as i32,
        });
        match self.request(r).await? {
            Payload::Ack(a) => Ok(a),
            other => Err(SdkError::Protocol(format!("expected ack, got {other:?}"))),
        }
    }

    pub async fn remove_member(
        &self,
        conversation_id: &str,
        user_id: &str,
    ) -> Result<pb::SendAck, SdkError> {
        let r = Request::RemoveMember(pb::RemoveMember {
            conversation_id: conversation_id.into(),
            user_id: user_id.into(),
        });
        match self.request(r).await? {
            Payload::Ack(a) => Ok(a),
            other => Err(SdkError::Protocol(format!("expected ack, got {other:?}"))),
        }
    }

    pub async fn sync(&self) -> Result<pb::SyncReply, SdkError> {
        match self
            .request_retrying(Request::Sync(pb::SyncRequest {}))
            .await?
        {
            Payload::Sync(s) => Ok(s),
            other => Err(SdkError::Protocol(format!("expected sync, got {other:?}"))),
        }
    }

    pub async fn history(&self, req: pb::HistoryRequest) -> Result<pb::HistoryReply, SdkError> {
        match self.request_retrying(Request::History(req)).await? {
            Payload::History(h) => Ok(h),
            other => Err(SdkError::Protocol(format!(
                "expected history, got {other:?}"
            ))),
        }
    }

    pub async fn mark_read(&self, conversation_id: &str, seq: u64) -> Result<u64, SdkError> {
        match self
            .request_retrying(Request::MarkRead(pb::MarkRead {
                conversation_id: conversation_id.into(),
                seq,
            }))
            .await?
        {
            Payload::Read(r) => Ok(r.read_seq),
            other => Err(SdkError::Protocol(format!(
                "expected read ack, got {other:?}"
            ))),
        }
    }

    pub async fn typing(&self, conversation_id: &str) -> Result<(), SdkError> {
        self.request(Request::Typing(pb::TypingRequest {
            conversation_id: conversation_id.into(),
        }))
        .await
        .map(|_| ())
    }

    pub async fn lookup_users(&self, usernames: &[&str]) -> Result<Vec<pb::User>, SdkError> {
        let r = Request::LookupUsers(pb::LookupUsers {
            usernames: usernames.iter().map(|s| s.to_string()).collect(),
            user_ids: vec![],
        });
        match self.request_retrying(r).await? {
            Payload::Users(u) => Ok(u.users),
            other => Err(SdkError::Protocol(format!("expected users, got {other:?}"))),
        }
    }

    pub async fn query_presence(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<pb::PresenceInfo>, SdkError> {
        match self
            .request_retrying(Request::QueryPresence(pb::QueryPresence {
                user_ids: user_ids.to_vec(),
            }))
            .await?
        {
            Payload::Presence(p) => Ok(p.users),
            other => Err(SdkError::Protocol(format!(
                "expected presence, got {other:?}"
            ))),
        }
    }

    fn emit(&self, e: ClientEvent) {
        let _ = self.inner.events.send(e);
    }

    /// Keeps a connection up until stopped or revoked.
    async fn manage(self, pushes: PushHandler) {
        let mut attempt: u32 = 0;
        let mut must_refresh = false;
        while !self.inner.stop.is_cancelled() {
            if must_refresh
                || self.inner.tokens.lock().access_expires_at_ms - now_ms() < REFRESH_MARGIN_MS
            {
                match self.refresh_tokens().await {
                    Ok(()) => must_refresh = false,
                    Err(SdkError::Server { .. }) => return self.revoked(),
                    Err(_) => {
                        self.backoff(&mut attempt).await;
                        continue;
                    }
                }
            }
            let token = self.inner.tokens.lock().access_token.clone();
            let cfg = &self.inner.config;
            let url = ws_url(self.current_url());
            match Conn::open(
                &url,
                &token,
                cfg.encoding,
                pushes.clone(),
                cfg.request_timeout,
            )
            .await
            {
                Ok((conn, _)) => {
                    attempt = 0;
                    self.inner.conn.send_replace(Some(conn.clone()));
                    self.emit(ClientEvent::Connected);
                    let catch_up = tokio::spawn(self.clone().catch_up());
                    tokio::select! {
                        _ = conn.closed.cancelled() => {}
                        _ = self.inner.stop.cancelled() => conn.shutdown(),
                    }
                    catch_up.abort();
                    self.inner.conn.send_replace(None);
                    let code = conn.close_code();
                    self.emit(ClientEvent::Disconnected { close_code: code });
                    match code {
                        Some(CLOSE_REVOKED) => return self.revoked(),
                        Some(CLOSE_UNAUTHENTICATED) => must_refresh = true,
                        // Draining, or gone without a word: try another gateway.
                        Some(CLOSE_SHUTDOWN) | None => self.next_gateway(),
                        _ => {}
                    }
                }
                Err(ConnectError::Auth(code)) => {
                    tracing::debug!(%code, "authentication refused; refreshing tokens");
                    must_refresh = true;
                }
                Err(ConnectError::Io(e)) => {
                    tracing::debug!(error = %e, %url, "connect failed");
                    self.next_gateway();
                }
            }
            self.backoff(&mut attempt).await;
        }
    }

    fn current_url(&self) -> &str {
        self.inner.config.url(
            self.inner
                .gateway
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    fn next_gateway(&self) {
        self.inner
            .gateway
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn revoked(&self) {
        self.inner.stop.cancel();
        self.emit(ClientEvent::Revoked);
    }

    /// Full-jitter exponential backoff.
    async fn backoff(&self, attempt: &mut u32) {
        let cfg = &self.inner.config;
        let cap = cfg
            .backoff_min
            .saturating_mul(1u32 << (*attempt).min(16))
            .min(cfg.backoff_max);
        let wait = rand::rng()
            .random_range(cfg.backoff_min.as_millis() as u64 / 2..=cap.as_millis().max(1) as u64);
        *attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = self.inner.stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }

    async fn refresh_tokens(&self) -> Result<(), SdkError> {
        let refresh = self.inner.tokens.lock().refresh_token.clone();
        let fresh = match http::refresh(&self.inner.http, self.current_url(), &refresh).await {
            Err(SdkError::Http(e)) => {
                self.next_gateway();
                return Err(SdkError::Http(e));
            }
            other => other?,
        };
        *self.inner.tokens.lock() = fresh;
        Ok(())
    }

    /// After (re)connecting: sync, then pull whatever each conversation
    /// missed since what was last delivered.
    async fn catch_up(self) {
        let Ok(sync) = self.sync().await else { return };
        for state in sync.conversations {
            let Some(conv) = state.conversation else {
                continue;
            };
            let from = {
                let mut tl = self.inner.timelines.lock();
                // A conversation never seen before starts at its read
                // watermark (what is unread is delivered), at most
                // BACKFILL events back.
                tl.entry(conv.id.clone())
                    .or_insert_with(|| {
                        Timeline::starting_after(
                            state.read_seq.max(state.head_seq.saturating_sub(BACKFILL)),
                        )
                    })
                    .delivered()
                    + 1
            };
            if state.head_seq >= from {
                self.pull(&conv.id, from, state.head_seq).await;
            }
        }
    }

    /// Fetches [from, to] from history into the timeline.
    async fn pull(&self, conv: &str, from: u64, to: u64) {
        let mut next = from;
        while next <= to {
            let req = pb::HistoryRequest {
                conversation_id: conv.into(),
                from_seq: next,
                to_seq: to,
                limit: 500,
                backward: false,
            };
            let Ok(h) = self.history(req).await else {
                return;
            };
            {
                let mut tl = self.inner.timelines.lock();
                let t = tl.entry(conv.to_string()).or_default();
                for e in h.events {
                    for out in t.push(e) {
                        let _ = self.inner.events.send(ClientEvent::Event(out));
                    }
                }
                for out in t.skip(&h.skipped) {
                    let _ = self.inner.events.send(ClientEvent::Event(out));
                }
            }
            if h.covered_to < next {
                return;
            }
            next = h.covered_to + 1;
        }
    }

    fn handle_push(&self, frame: pb::ServerFrame) {
        match frame.payload {
            Some(Payload::Event(e)) => self.ingest(e),
            Some(Payload::Typing(t)) => self.emit(ClientEvent::Typing(t)),
            Some(Payload::PresenceChanged(p)) => self.emit(ClientEvent::Presence(p)),
            Some(Payload::Receipt(r)) => self.emit(ClientEvent::Receipt(r)),
            _ => {}
        }
    }

    fn ingest(&self, e: pb::Event) {
        let conv = e.conversation_id.clone();
        let gap = {
            let mut tl = self.inner.timelines.lock();
            // A conversation first seen live is one just joined (read
            // watermark 0). Its pushes may arrive out of order (several
            // fanout workers), so the first one seen is not necessarily the
            // first one: catch up from BACKFILL events before it.
            let t = tl
                .entry(conv.clone())
                .or_insert_with(|| Timeline::starting_after(e.seq.saturating_sub(BACKFILL + 1)));
            for out in t.push(e) {
                let _ = self.inner.events.send(ClientEvent::Event(out));
            }
            t.gap()
        };
        if let Some(gap) = gap {
            let mut pulling = self.inner.pulling.lock();
            let already = pulling.get(&conv).copied().unwrap_or(0);
            if *gap.end() > already {
                pulling.insert(conv.clone(), *gap.end());
                let me = self.clone();
                tokio::spawn(async move {
                    me.pull(&conv, *gap.start(), *gap.end()).await;
                    me.inner.pulling.lock().remove(&conv);
                });
            }
        }
    }
}

fn conversation(p: Payload) -> Result<pb::Conversation, SdkError> {
    match p {
        Payload::Conversation(c) => Ok(c),
        other => Err(SdkError::Protocol(format!(
            "expected conversation, got {other:?}"
        ))),
    }
}

/// A fresh idempotency key.
pub fn new_client_msg_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
