//! Client protocol v1 over WebSocket.

mod conn;
mod handshake;
mod inbound;
mod limiter;
mod outbound;
mod presence;
mod session;
mod upgrade;
mod writer;

pub(crate) use conn::{CloseReason, ConnHandle};
pub(crate) use outbound::GatewayBudget;
pub(crate) use upgrade::ws_handler;

/// WebSocket close codes the gateway uses (documented in docs/protocol.md).
pub mod close_codes {
    /// A text frame that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The frame exceeded the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server is shutting down or draining: reconnect, elsewhere if possible.
    pub const SHUTDOWN: u16 = 1012;
    /// The client did not read fast enough: reconnect and sync.
    pub const RESYNC: u16 = 4001;
    /// Nothing heard from the client within the idle timeout.
    pub const IDLE: u16 = 4002;
    /// Authentication failed (bad, expired or missing token).
    pub const UNAUTHENTICATED: u16 = 4401;
    /// The session was revoked (logout or refresh-token reuse): log in again.
    pub const REVOKED: u16 = 4403;
    /// No authenticate frame within the deadline.
    pub const AUTH_TIMEOUT: u16 = 4408;
    /// The user has too many open connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 4409;
    /// The client kept sending far above its rate limit.
    pub const RATE_LIMITED: u16 = 4429;
}
