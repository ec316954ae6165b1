//! Server frames the gateway builds itself.

use parley_proto::v1 as pb;
use pb::server_frame::Payload;

/// An error reply (or, without a request id, an error push).
pub(crate) fn error_frame(
    id: &str,
    code: &str,
    message: &str,
    retry_after_ms: u32,
) -> pb::ServerFrame {
    pb::ServerFrame {
        id: id.to_string(),
        payload: Some(Payload::Error(pb::Error {
            code: code.into(),
            message: message.into(),
            retry_after_ms,
        })),
    }
}
