//! Client frames as they arrive: text or binary data, decoded in the
//! connection's encoding, or the reason they are not a frame.

use axum::extract::ws::Utf8Bytes;
use parley_proto::codec::{self, Encoding};
use parley_proto::v1 as pb;

pub(crate) enum Data {
    Text(Utf8Bytes),
    Binary(bytes::Bytes),
}

/// Decodes a client frame, or says why it is not one.
pub(crate) fn decode(encoding: Encoding, data: &Data) -> Result<pb::ClientFrame, String> {
    match (encoding, data) {
        (Encoding::Json, Data::Text(t)) => {
            codec::decode_client_json(t.as_str()).map_err(|e| e.to_string())
        }
        (Encoding::Proto, Data::Binary(b)) => {
            codec::decode_client_proto(b).map_err(|e| e.to_string())
        }
        (Encoding::Json, Data::Binary(_)) => Err("binary frame on the JSON subprotocol".into()),
        (Encoding::Proto, Data::Text(_)) => Err("text frame on the protobuf subprotocol".into()),
    }
}

/// Best-effort id of a frame being refused before dispatch.
pub(crate) fn request_id(encoding: Encoding, data: &Data) -> String {
    decode(encoding, data).map(|f| f.id).unwrap_or_default()
}

/// Whether a read failed because the frame was over the size limit (the
/// only read error worth telling the client about).
pub(crate) fn is_too_big(e: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    matches!(
        e.into_inner().downcast_ref::<Error>(),
        Some(Error::Capacity(_))
    )
}
