//! Client frames as they arrive: text or binary data, decoded in the
//! connection's encoding, or the reason they are not a frame.

use super::conn::CloseReason;
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

/// Just the request id of a frame, read without the rest (which may be
/// what is malformed): unknown fields are skipped in both encodings.
#[derive(Clone, PartialEq, prost::Message, serde::Deserialize)]
struct IdOnly {
    #[prost(string, tag = "1")]
    #[serde(default)]
    id: String,
}

/// The request id of a frame being refused (malformed, rate limited), so
/// the client can tell which request failed; empty when even the id is
/// unreadable or longer than request ids may be.
pub(crate) fn request_id(encoding: Encoding, data: &Data) -> String {
    let id = match (encoding, data) {
        (Encoding::Json, Data::Text(t)) => serde_json::from_str::<IdOnly>(t.as_str()).ok(),
        (Encoding::Proto, Data::Binary(b)) => <IdOnly as prost::Message>::decode(b.as_ref()).ok(),
        _ => None,
    };
    id.map(|i| i.id)
        .filter(|id| id.len() <= crate::requests::MAX_REQUEST_ID)
        .unwrap_or_default()
}

/// Why a read failed, when it is worth telling the client before closing:
/// a frame over the size limit (1009) or a text frame that is not UTF-8
/// (1007). Anything else is a broken connection.
pub(crate) fn read_error_reason(e: axum::Error) -> Option<CloseReason> {
    use tokio_tungstenite::tungstenite::Error;
    match e.into_inner().downcast_ref::<Error>() {
        Some(Error::Capacity(_)) => Some(CloseReason::TooBig),
        Some(Error::Utf8(_)) => Some(CloseReason::InvalidUtf8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &'static str) -> Data {
        Data::Text(s.into())
    }

    #[test]
    fn the_id_of_a_malformed_frame_is_still_read() {
        let j = Encoding::Json;
        assert_eq!(
            request_id(j, &json(r#"{"id":"c1","ping":{"nonce":"abc"}}"#)),
            "c1"
        );
        assert_eq!(
            request_id(j, &json(r#"{"id":"c2","ping":{},"sync":{}}"#)),
            "c2"
        );
        assert_eq!(request_id(j, &json(r#"{"ping":{}}"#)), "");
        assert_eq!(request_id(j, &json(r#"{"id":7}"#)), "");
        assert_eq!(request_id(j, &json("{not json")), "");
        let long = format!(r#"{{"id":"{}"}}"#, "x".repeat(65));
        assert_eq!(request_id(j, &Data::Text(long.into())), "");
        // Protobuf: field 1 (the id) then a ping whose nonce has the wrong
        // wire type.
        let mut b = vec![0x0a, 2, b'p', b'1'];
        b.extend([0xba, 0x01, 2, 0x0a, 0x00]);
        assert!(decode(Encoding::Proto, &Data::Binary(b.clone().into())).is_err());
        assert_eq!(request_id(Encoding::Proto, &Data::Binary(b.into())), "p1");
        assert_eq!(request_id(Encoding::Proto, &json("{}")), "");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 4_000,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn request_ids_of_arbitrary_frames_never_panic_and_stay_bounded(
            text in ".{0,300}",
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let t = Data::Text(text.into());
            let b = Data::Binary(bytes.into());
            for enc in [Encoding::Json, Encoding::Proto] {
                for d in [&t, &b] {
                    proptest::prop_assert!(request_id(enc, d).len() <= crate::requests::MAX_REQUEST_ID);
                    let _ = decode(enc, d);
                }
            }
        }
    }
}
