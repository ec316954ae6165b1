//! The two encodings of client protocol v1 frames.
//!
//! JSON uses the proto3 canonical JSON mapping (lowerCamelCase names, 64-bit
//! integers as strings, enums as names); decoding also accepts numbers for
//! 64-bit fields and the original snake_case names.

use crate::v1::{ClientFrame, ServerFrame};
use bytes::Bytes;
use prost::Message;

/// WebSocket subprotocol for JSON text frames.
pub const SUBPROTOCOL_JSON: &str = "parley.v1.json";
/// WebSocket subprotocol for protobuf binary frames.
pub const SUBPROTOCOL_PROTO: &str = "parley.v1.proto";

/// The encoding negotiated for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Proto,
}

impl Encoding {
    /// Picks the encoding for a negotiated subprotocol (JSON when none).
    pub fn from_subprotocol(p: Option<&str>) -> Self {
        match p {
            Some(SUBPROTOCOL_PROTO) => Encoding::Proto,
            _ => Encoding::Json,
        }
    }

    pub fn subprotocol(self) -> &'static str {
        match self {
            Encoding::Json => SUBPROTOCOL_JSON,
            Encoding::Proto => SUBPROTOCOL_PROTO,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("malformed JSON frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("malformed protobuf frame: {0}")]
    Proto(#[from] prost::DecodeError),
}

/// A frame ready to write: text for JSON, binary for protobuf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    Text(String),
    Binary(Bytes),
}

pub fn decode_client_json(text: &str) -> Result<ClientFrame, CodecError> {
    Ok(serde_json::from_str(text)?)
}

pub fn decode_client_proto(bytes: &[u8]) -> Result<ClientFrame, CodecError> {
    Ok(ClientFrame::decode(bytes)?)
}

pub fn decode_server_json(text: &str) -> Result<ServerFrame, CodecError> {
    Ok(serde_json::from_str(text)?)
}

pub fn decode_server_proto(bytes: &[u8]) -> Result<ServerFrame, CodecError> {
    Ok(ServerFrame::decode(bytes)?)
}

pub fn encode_server(encoding: Encoding, frame: &ServerFrame) -> Encoded {
    match encoding {
        Encoding::Json => Encoded::Text(to_json(frame)),
        Encoding::Proto => Encoded::Binary(Bytes::from(frame.encode_to_vec())),
    }
}

pub fn encode_client(encoding: Encoding, frame: &ClientFrame) -> Encoded {
    match encoding {
        Encoding::Json => Encoded::Text(to_json(frame)),
        Encoding::Proto => Encoded::Binary(Bytes::from(frame.encode_to_vec())),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Generated pbjson impls only fail on non-finite floats, which the schema
    // does not contain.
    serde_json::to_string(v).expect("protocol types always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{MessageBody, Send, client_frame, send};

    fn send_frame() -> ClientFrame {
        ClientFrame {
            id: "7".into(),
            request: Some(client_frame::Request::Send(Send {
                conversation_id: "c1".into(),
                client_msg_id: "m1".into(),
                body: Some(send::Body::Message(MessageBody {
                    text: "hi".into(),
                    reply_to_seq: 3,
                })),
            })),
        }
    }

    #[test]
    fn json_uses_canonical_mapping() {
        let Encoded::Text(t) = encode_client(Encoding::Json, &send_frame()) else {
            panic!("json is text")
        };
        assert!(t.contains("\"conversationId\":\"c1\""), "{t}");
        assert!(t.contains("\"replyToSeq\":\"3\""), "{t}");
        assert_eq!(decode_client_json(&t).unwrap(), send_frame());
    }

    #[test]
    fn json_accepts_numbers_and_snake_case() {
        let t = r#"{"id":"7","send":{"conversation_id":"c1","clientMsgId":"m1","message":{"text":"hi","replyToSeq":3}}}"#;
        assert_eq!(decode_client_json(t).unwrap(), send_frame());
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(decode_client_json("{not json").is_err());
        assert!(decode_client_json(r#"{"id":"1","send":{"conversationId":7}}"#).is_err());
        assert!(decode_client_proto(&[0xff, 0xff, 0xff]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn roundtrip_both_encodings(id in "[a-z0-9]{0,8}", text in ".{0,64}", seq in 0u64..u64::MAX) {
            let f = ClientFrame {
                id,
                request: Some(client_frame::Request::Send(Send {
                    conversation_id: "c".into(),
                    client_msg_id: "m".into(),
                    body: Some(send::Body::Message(MessageBody { text, reply_to_seq: seq })),
                })),
            };
            match encode_client(Encoding::Json, &f) {
                Encoded::Text(t) => proptest::prop_assert_eq!(decode_client_json(&t).unwrap(), f.clone()),
                Encoded::Binary(_) => unreachable!(),
            }
            match encode_client(Encoding::Proto, &f) {
                Encoded::Binary(b) => proptest::prop_assert_eq!(decode_client_proto(&b).unwrap(), f),
                Encoded::Text(_) => unreachable!(),
            }
        }
    }
}
