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

/// Encodes a server frame. Never panics: a frame the JSON mapping cannot
/// express (an enum number this version does not know, which protobuf
/// decoding accepts) becomes an `internal` error with the same id.
pub fn encode_server(encoding: Encoding, frame: &ServerFrame) -> Encoded {
    match encoding {
        Encoding::Json => Encoded::Text(serde_json::to_string(frame).unwrap_or_else(|e| {
            let fallback = ServerFrame {
                id: frame.id.clone(),
                payload: Some(crate::v1::server_frame::Payload::Error(crate::v1::Error {
                    code: "internal".into(),
                    message: format!("the reply cannot be expressed in JSON: {e}"),
                    retry_after_ms: 0,
                })),
            };
            serde_json::to_string(&fallback).unwrap_or_default()
        })),
        Encoding::Proto => Encoded::Binary(Bytes::from(frame.encode_to_vec())),
    }
}

/// Encodes a client frame. Never panics: a frame the JSON mapping cannot
/// express (an unknown enum number) goes out as its id alone, which the
/// server answers with `unknown_request`.
pub fn encode_client(encoding: Encoding, frame: &ClientFrame) -> Encoded {
    match encoding {
        Encoding::Json => Encoded::Text(serde_json::to_string(frame).unwrap_or_else(|_| {
            let id_only = ClientFrame {
                id: frame.id.clone(),
                request: None,
            };
            serde_json::to_string(&id_only).unwrap_or_default()
        })),
        Encoding::Proto => Encoded::Binary(Bytes::from(frame.encode_to_vec())),
    }
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
                    ..Default::default()
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
    fn frames_json_cannot_express_are_encoded_without_panicking() {
        // Role 29 decodes from protobuf (proto3 enums are open) but has no
        // JSON name.
        let f = ClientFrame {
            id: "r".into(),
            request: Some(client_frame::Request::AddMembers(crate::v1::AddMembers {
                conversation_id: "c".into(),
                user_ids: vec!["u".into()],
                role: 29,
            })),
        };
        let Encoded::Text(t) = encode_client(Encoding::Json, &f) else {
            panic!("json is text")
        };
        assert_eq!(decode_client_json(&t).unwrap().request, None);
        let s = ServerFrame {
            id: "r".into(),
            payload: Some(crate::v1::server_frame::Payload::Members(
                crate::v1::MembersPage {
                    conversation_id: "c".into(),
                    members: vec![crate::v1::Member {
                        user_id: "u".into(),
                        role: 29,
                        read_seq: 0,
                    }],
                    has_more: false,
                    next_after: String::new(),
                },
            )),
        };
        let Encoded::Text(t) = encode_server(Encoding::Json, &s) else {
            panic!("json is text")
        };
        assert!(
            t.contains("\"internal\"") && t.contains("\"id\":\"r\""),
            "{t}"
        );
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
                    body: Some(send::Body::Message(MessageBody { text, reply_to_seq: seq, ..Default::default() })),
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
