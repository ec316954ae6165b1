//! Whole-system test harness: an embedded node on port 0 in a temp dir,
//! users logged in through the SDK, raw WebSocket clients, and waits on
//! conditions with deadlines.
#![allow(dead_code)]

use futures::{SinkExt, StreamExt};
use parley::{Config, RunningNode, start_embedded};
use parley_sdk::{Client, ClientConfig, ClientEvent, Encoding, pb};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(20);
pub const PASSWORD: &str = "correct horse battery";

pub struct TestNode {
    pub node: Option<RunningNode>,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestNode {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        // One hash at a time is the default on 2 cores; tests log in many users.
        config.auth.hash_concurrency = 2;
        // Metrics on an admin port of their own, found through data_dir.
        config.cluster.admin_listen = Some("127.0.0.1:0".parse().unwrap());
        config.cluster.announce = true;
        // People are added to groups directly unless a test of consent
        // says otherwise (most tests are about something else).
        config.gateway.invitations = parley_gateway::Invitations::Never;
        // Every test user signs up from 127.0.0.1.
        config.gateway.registrations_per_hour_per_address = 0;
        tweak(&mut config);
        let node = Some(Self::boot(&config).await);
        Self { node, dir, config }
    }

    async fn boot(config: &Config) -> RunningNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        start_embedded(config.clone(), listener, parley::telemetry::prometheus())
            .await
            .unwrap()
    }

    pub fn node(&self) -> &RunningNode {
        self.node.as_ref().expect("running")
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.node().addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/ws", self.node().addr)
    }

    /// The admin listener's address (metrics, health).
    pub fn admin_url(&self) -> String {
        let addr = std::fs::read_to_string(self.config.data_dir.join("admin.addr"))
            .expect("the admin listener announced its address");
        format!("http://{addr}")
    }

    /// The node's Prometheus metrics, from the admin listener.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops the node if it runs, then starts it again on the same data.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.node = Some(Self::boot(&self.config).await);
    }

    pub async fn stop(&mut self) {
        if let Some(n) = self.node.take() {
            n.shutdown().await.unwrap();
        }
    }

    /// Registers `name` and logs in with the SDK.
    pub async fn user(&self, name: &str) -> (Client, Events) {
        self.user_with(name, Encoding::Proto).await
    }

    pub async fn user_with(&self, name: &str, encoding: Encoding) -> (Client, Events) {
        match parley_sdk::register(&self.base_url(), name, PASSWORD).await {
            Ok(_) => {}
            Err(e) if e.code() == Some("already_exists") => {}
            Err(e) => panic!("register {name}: {e}"),
        }
        self.login(name, encoding).await
    }

    pub async fn login(&self, name: &str, encoding: Encoding) -> (Client, Events) {
        let mut cfg = ClientConfig::new(self.base_url());
        cfg.encoding = encoding;
        let (c, rx) = Client::login(cfg, name, PASSWORD).await.unwrap();
        (c, Events(rx))
    }

    /// Registers and logs in over HTTP only; returns the tokens.
    pub async fn tokens(&self, name: &str) -> pb::TokenPair {
        let _ = parley_sdk::register(&self.base_url(), name, PASSWORD).await;
        let body =
            serde_json::json!({ "username": name, "password": PASSWORD, "deviceName": "raw" });
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/auth/login", self.base_url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        serde_json::from_str(&resp.text().await.unwrap()).unwrap()
    }
}

/// The events of one SDK client.
pub struct Events(pub UnboundedReceiver<ClientEvent>);

impl Events {
    /// Waits for an event matching `f`, skipping others.
    pub async fn wait<T>(&mut self, mut f: impl FnMut(&ClientEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let e = tokio::time::timeout_at(deadline, self.0.recv())
                .await
                .expect("timed out waiting for an event")
                .expect("client stopped");
            if let Some(t) = f(&e) {
                return t;
            }
        }
    }

    /// Collects timeline events of `conv` until `n` were seen.
    pub async fn timeline(&mut self, conv: &str, n: usize) -> Vec<pb::Event> {
        let mut out = Vec::new();
        while out.len() < n {
            out.push(
                self.wait(|e| match e {
                    ClientEvent::Event(ev) if ev.conversation_id == conv => Some(ev.clone()),
                    _ => None,
                })
                .await,
            );
        }
        out
    }

    /// True when nothing is queued right now.
    pub fn drain(&mut self) -> Vec<ClientEvent> {
        let mut v = Vec::new();
        while let Ok(e) = self.0.try_recv() {
            v.push(e);
        }
        v
    }
}

pub fn text_of(e: &pb::Event) -> &str {
    match &e.body {
        Some(pb::event::Body::Message(m)) => &m.text,
        _ => "",
    }
}

pub type Raw = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw WebSocket with the given subprotocol (and optional Origin).
pub async fn raw(
    url: &str,
    protocol: &str,
    origin: Option<&str>,
) -> Result<Raw, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

pub async fn send_json(ws: &mut Raw, v: serde_json::Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON frame, or the close code if the server closes first.
pub async fn next_json(ws: &mut Raw) -> Result<serde_json::Value, Option<u16>> {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no frame within the deadline");
        match m {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(c))) => return Err(c.map(|c| u16::from(c.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// Reads until the server closes; returns the close code (None for EOF).
/// Heartbeats keep a connection busy, so the deadline is on the whole wait.
pub async fn close_code(ws: &mut Raw) -> Option<u16> {
    let wait = async {
        loop {
            match next_json(ws).await {
                Ok(_) => continue,
                Err(code) => return code,
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("the server did not close within the deadline")
}

/// The reply to request `id`, skipping the pushes that come before it.
pub async fn reply_to(ws: &mut Raw, id: &str) -> Result<serde_json::Value, Option<u16>> {
    loop {
        let v = next_json(ws).await?;
        if v["id"] == id {
            return Ok(v);
        }
    }
}

/// Like `raw_authed`, over a socket whose receive buffer is `rcvbuf` bytes:
/// a client that stops reading then pushes back on the server at once
/// instead of after the kernel has absorbed megabytes.
pub async fn raw_authed_small_window(
    node: &TestNode,
    name: &str,
    rcvbuf: u32,
) -> (Raw, pb::TokenPair) {
    let tokens = node.tokens(name).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(rcvbuf).unwrap();
    let stream = socket.connect(node.node().addr).await.unwrap();
    let mut req = node.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "parley.v1.json".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    authenticate(&mut ws, &tokens).await;
    (ws, tokens)
}

/// Authenticates a raw JSON connection with `tokens`.
pub async fn authenticate(ws: &mut Raw, tokens: &pb::TokenPair) {
    send_json(
        ws,
        serde_json::json!({"id": "a", "authenticate": {"accessToken": tokens.access_token}}),
    )
    .await;
    let reply = next_json(ws).await.unwrap();
    assert!(reply.get("authenticated").is_some(), "{reply}");
}

/// A raw JSON connection, authenticated.
pub async fn raw_authed(node: &TestNode, name: &str) -> (Raw, pb::TokenPair) {
    let tokens = node.tokens(name).await;
    let mut ws = raw(&node.ws_url(), "parley.v1.json", None).await.unwrap();
    authenticate(&mut ws, &tokens).await;
    (ws, tokens)
}

/// Registers (if needed) and logs in `name` through `urls[0]`, falling back
/// to the other gateways on reconnect.
pub async fn client_on(urls: &[String], name: &str) -> (Client, Events) {
    match parley_sdk::register(&urls[0], name, PASSWORD).await {
        Ok(_) => {}
        Err(e) if e.code() == Some("already_exists") => {}
        Err(e) => panic!("register {name}: {e}"),
    }
    let mut cfg = ClientConfig::new(urls[0].clone());
    cfg.fallback_urls = urls[1..].to_vec();
    cfg.backoff_max = Duration::from_secs(1);
    let (c, rx) = Client::login(cfg, name, PASSWORD).await.unwrap();
    (c, Events(rx))
}

/// The address a process with `cluster.announce` bound for `kind` (grpc,
/// http, admin), once it has.
pub async fn announced(dir: &std::path::Path, kind: &str) -> std::net::SocketAddr {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(a) = std::fs::read_to_string(dir.join(format!("{kind}.addr")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return a;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never announced {kind}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a new socket authenticating with `access_token` is refused.
pub async fn token_refused(ws_url: &str, access_token: &str) -> bool {
    let mut ws = raw(ws_url, "parley.v1.json", None).await.unwrap();
    send_json(
        &mut ws,
        serde_json::json!({"id": "a", "authenticate": {"accessToken": access_token}}),
    )
    .await;
    match next_json(&mut ws).await {
        Ok(reply) if reply.get("authenticated").is_some() => false,
        Ok(reply) => {
            assert_eq!(reply["error"]["code"], "unauthenticated", "{reply}");
            true
        }
        Err(_) => true,
    }
}

/// An HTTP request with a bearer token and an optional JSON body; the
/// status and the parsed reply (Null when empty).
pub async fn bearer(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}
