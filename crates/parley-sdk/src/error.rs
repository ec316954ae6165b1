#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkError {
    /// The server refused the request (code as in docs/protocol.md).
    #[error("server error {code}: {message}")]
    Server {
        code: String,
        message: String,
        /// For `rate_limited`: when to try again.
        retry_after_ms: u32,
    },
    /// The connection dropped before the reply; the request may or may not
    /// have been applied.
    #[error("disconnected before a reply")]
    Disconnected,
    #[error("no reply within the timeout")]
    Timeout,
    #[error("HTTP request failed: {0}")]
    Http(String),
    /// The session was revoked: log in again.
    #[error("the session was revoked")]
    Revoked,
    #[error("the client was closed")]
    Closed,
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

impl SdkError {
    pub fn code(&self) -> Option<&str> {
        match self {
            SdkError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}
