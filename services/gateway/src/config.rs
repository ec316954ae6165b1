use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Origins allowed to open WebSockets (e.g. "https://chat.example.com").
    /// Requests without Origin (non-browser clients) and same-origin
    /// requests are always allowed; "*" allows any origin.
    pub allowed_origins: Vec<String>,
    /// Largest client frame (bytes). Larger frames close the connection
    /// with 1009.
    pub max_frame_bytes: usize,
    /// WebSocket read buffer per connection.
    pub read_buffer_bytes: usize,
    /// Bytes buffered per connection before a write reaches the socket.
    pub write_buffer_bytes: usize,
    /// Frames queued per connection; a client that lets it fill up is
    /// closed with the "resync" code.
    pub outbound_queue: usize,
    /// Bytes queued per connection (frames not yet flushed to its socket).
    /// A push that does not fit closes the connection with "resync"; a
    /// reply waits for room. At least the largest server frame.
    pub outbound_bytes_per_connection: usize,
    /// Bytes queued on all connections of this gateway together; what
    /// bounds its memory when many clients stop reading.
    pub outbound_bytes_total: usize,
    /// Sustained client frames per second per connection.
    pub rate_per_sec: u32,
    /// Frames a connection may send in a burst above the sustained rate.
    pub rate_burst: u32,
    /// Time a new connection has to authenticate.
    pub auth_timeout_ms: u64,
    pub ping_interval_secs: u64,
    /// A connection silent (no frame, no pong) for this long is closed.
    pub idle_timeout_secs: u64,
    pub max_connections_per_user: usize,
    /// On shutdown, how long connections get to close before they are cut.
    pub drain_timeout_secs: u64,
    /// Clock skew tolerated when checking token expiry.
    pub token_leeway_secs: u64,
    /// How often the gateway reads auth's log of ended sessions (whose
    /// access tokens it then refuses). Each ending also reaches every
    /// gateway at once over the bus; this catches one the bus dropped.
    pub revocation_poll_secs: u64,
    /// When set, `/metrics` is also served on the public listener to
    /// requests with `Authorization: Bearer <token>`. Unset (the default),
    /// metrics are served only on `cluster.admin_listen`: the public port
    /// tells strangers nothing about the load or the users.
    pub metrics_token: Option<String>,
    /// Connections this gateway holds at most (HTTP and WebSocket); more are
    /// answered 503 and closed. 0: nine tenths of the process's file limit.
    pub max_connections: usize,
    /// Connections one address may hold before they authenticate (HTTP
    /// requests, WebSockets before `authenticate`); more are answered 429.
    pub max_unauthenticated_per_address: usize,
    /// A request's headers must arrive within this; also how long an idle
    /// keep-alive connection stays open.
    pub http_header_timeout_secs: u64,
    /// An HTTP request's body and answer must be done within this.
    pub http_request_timeout_secs: u64,
    /// Sign-ins (login, register: each a password hash) one address may
    /// have in progress; more get 429 at once.
    pub sign_ins_per_address: usize,
    /// Conversations (groups, DMs) one user may start per hour on this
    /// gateway, with bursts of `conversations_burst`; more get `rate_limited`.
    pub conversations_per_hour: u32,
    pub conversations_burst: u32,
    /// Accounts one client address may create per hour on this gateway
    /// (self-service registration), with bursts of the same size; more get
    /// 429 with Retry-After. 0: no limit (load tests from one machine).
    pub registrations_per_hour_per_address: u32,
    /// Who has to accept before joining a conversation someone else starts
    /// or adds them to (see `Invitations`).
    pub invitations: Invitations,
}

/// When a person added to a group gets an invitation to accept rather
/// than being added, and when a new direct conversation is a message
/// request. A block always refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Invitations {
    /// People who share no conversation with whoever adds them (or writes
    /// to them first): a stranger cannot pull anyone into a group or learn
    /// their presence by starting a conversation.
    #[default]
    Strangers,
    /// Everyone added to a group is invited; direct conversations as with
    /// `strangers`.
    Always,
    /// Nobody: people are added directly and direct conversations open at
    /// once (a workplace whose admins manage membership).
    Never,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_frame_bytes: 64 * 1024,
            read_buffer_bytes: 4 * 1024,
            write_buffer_bytes: 8 * 1024,
            outbound_queue: 512,
            outbound_bytes_per_connection: 2 * 1024 * 1024,
            outbound_bytes_total: 256 * 1024 * 1024,
            rate_per_sec: 100,
            rate_burst: 200,
            auth_timeout_ms: 5_000,
            ping_interval_secs: 30,
            idle_timeout_secs: 90,
            max_connections_per_user: 32,
            drain_timeout_secs: 10,
            token_leeway_secs: 5,
            revocation_poll_secs: 10,
            metrics_token: None,
            max_connections: 0,
            max_unauthenticated_per_address: 256,
            http_header_timeout_secs: 10,
            http_request_timeout_secs: 15,
            sign_ins_per_address: 2,
            conversations_per_hour: 120,
            conversations_burst: 30,
            registrations_per_hour_per_address: 20,
            invitations: Invitations::default(),
        }
    }
}

impl GatewayConfig {
    pub fn http_header_timeout(&self) -> Duration {
        Duration::from_secs(self.http_header_timeout_secs.max(1))
    }
    pub fn http_request_timeout(&self) -> Duration {
        Duration::from_secs(self.http_request_timeout_secs.max(1))
    }
    pub fn max_connections(&self) -> usize {
        match self.max_connections {
            0 => crate::admission::default_max_connections(),
            n => n,
        }
    }
    pub fn auth_timeout(&self) -> Duration {
        Duration::from_millis(self.auth_timeout_ms)
    }
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(2))
    }
    /// The largest frame the gateway writes. Storage keeps every page
    /// within a budget far below it; one event is bounded by the client
    /// frame limit, and JSON escaping at most sixfolds text.
    pub fn max_server_frame(&self) -> usize {
        (1024 * 1024).max(8 * self.max_frame_bytes)
    }
    pub fn outbound_bytes_per_connection(&self) -> usize {
        self.outbound_bytes_per_connection
            .max(self.max_server_frame() + 4096)
    }
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }
}
