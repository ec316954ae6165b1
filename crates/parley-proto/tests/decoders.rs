//! Every decoder a hostile peer can reach, fed arbitrary and almost-valid
//! input: none may panic, and what decodes must encode and decode back to
//! itself. The case counts are printed so a run reports how many inputs
//! were tried (`cargo test -p parley-proto --test decoders -- --nocapture`).

use parley_proto::codec::{
    Encoded, Encoding, decode_client_json, decode_client_proto, decode_server_json,
    decode_server_proto, encode_client,
};
use parley_proto::v1 as pb;
use proptest::prelude::*;

const CASES: u32 = 4_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Frames of every request kind, in JSON, as a client would send them.
fn valid_json_frames() -> Vec<String> {
    [
        r#"{"id":"1","authenticate":{"accessToken":"eyJ.x.y"}}"#,
        r#"{"id":"2","createDirect":{"userId":"u1"}}"#,
        r#"{"id":"3","createGroup":{"title":"t","memberIds":["a","b"]}}"#,
        r#"{"id":"4","addMembers":{"conversationId":"c","userIds":["a"],"role":"ROLE_ADMIN"}}"#,
        r#"{"id":"5","removeMember":{"conversationId":"c","userId":"a"}}"#,
        r#"{"id":"6","send":{"conversationId":"c","clientMsgId":"m","message":{"text":"hi","replyToSeq":"3"}}}"#,
        r#"{"id":"7","send":{"conversationId":"c","clientMsgId":"m","edit":{"targetSeq":"3","text":"x"}}}"#,
        r#"{"id":"8","sync":{"after":"c","limit":10}}"#,
        r#"{"id":"9","history":{"conversationId":"c","fromSeq":"1","toSeq":"9","limit":5,"backward":true}}"#,
        r#"{"id":"10","markRead":{"conversationId":"c","seq":"4"}}"#,
        r#"{"id":"11","typing":{"conversationId":"c"}}"#,
        r#"{"id":"12","getConversation":{"conversationId":"c"}}"#,
        r#"{"id":"13","lookupUsers":{"usernames":["a"],"userIds":["b"]}}"#,
        r#"{"id":"14","queryPresence":{"userIds":["a"]}}"#,
        r#"{"id":"15","ping":{"nonce":"7"}}"#,
        r#"{"id":"16","listMembers":{"conversationId":"c","after":"u","limit":100}}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn roundtrips(f: &pb::ClientFrame) -> Result<(), TestCaseError> {
    match encode_client(Encoding::Json, f) {
        Encoded::Text(t) => {
            let back = decode_client_json(&t).unwrap();
            // Either the same frame, or (for an enum number JSON has no
            // name for) the id alone.
            prop_assert!(
                back == *f || (back.id == f.id && back.request.is_none()),
                "{t}"
            );
        }
        Encoded::Binary(_) => unreachable!(),
    }
    match encode_client(Encoding::Proto, f) {
        Encoded::Binary(b) => prop_assert_eq!(&decode_client_proto(&b).unwrap(), f),
        Encoded::Text(_) => unreachable!(),
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    proptest::collection::vec(edit, 1..6)
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len().max(1);
        match *e {
            Edit::Flip(i, b) if !bytes.is_empty() => bytes[i % n] ^= b | 1,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Edit::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_the_protobuf_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(f) = decode_client_proto(&bytes) {
            roundtrips(&f)?;
        }
        let _ = decode_server_proto(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics_the_json_decoders(text in ".{0,256}") {
        if let Ok(f) = decode_client_json(&text) {
            roundtrips(&f)?;
        }
        let _ = decode_server_json(&text);
    }

    #[test]
    fn almost_valid_json_frames_decode_or_fail_cleanly(i in 0usize..16, e in edits()) {
        let frames = valid_json_frames();
        let mutated = apply(frames[i].clone().into_bytes(), &e);
        if let Ok(text) = String::from_utf8(mutated)
            && let Ok(f) = decode_client_json(&text)
        {
            roundtrips(&f)?;
        }
    }

    #[test]
    fn almost_valid_protobuf_frames_decode_or_fail_cleanly(i in 0usize..16, e in edits()) {
        let frames = valid_json_frames();
        let f = decode_client_json(&frames[i]).unwrap();
        let Encoded::Binary(b) = encode_client(Encoding::Proto, &f) else { unreachable!() };
        let mutated = apply(b.to_vec(), &e);
        if let Ok(f) = decode_client_proto(&mutated) {
            roundtrips(&f)?;
        }
    }

    #[test]
    fn deep_and_wide_json_is_refused_not_overflowed(depth in 1usize..2000, wide in 0usize..2000) {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let _ = decode_client_json(&format!(r#"{{"id":"x","ping":{deep}}}"#));
        let many = vec!["\"a\""; wide].join(",");
        let _ = decode_client_json(&format!(r#"{{"id":"x","lookupUsers":{{"usernames":[{many}]}}}}"#));
    }

    #[test]
    fn http_bodies_never_panic(text in ".{0,256}") {
        let _ = serde_json::from_str::<pb::Credentials>(&text);
        let _ = serde_json::from_str::<pb::LoginRequest>(&text);
        let _ = serde_json::from_str::<pb::RefreshRequest>(&text);
    }
}

#[test]
fn the_valid_frames_cover_every_request_kind() {
    let kinds: std::collections::HashSet<_> = valid_json_frames()
        .iter()
        .map(|t| {
            let f = decode_client_json(t).unwrap();
            std::mem::discriminant(&f.request.unwrap())
        })
        .collect();
    assert_eq!(kinds.len(), 15, "one frame per request kind (send twice)");
    println!(
        "decoder inputs tried: {} (6 properties x {CASES} cases)",
        6 * CASES
    );
}
