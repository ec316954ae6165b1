//! Bad input gets a clear error frame or close code, and loses nothing.

mod common;

use common::{TestNode, close_code, next_json, raw, raw_authed, send_json};
use futures::SinkExt;
use parley_gateway::close_codes;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn code(v: &serde_json::Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unknown_frames_get_errors_and_the_connection_survives() {
    let node = TestNode::start().await;
    let (mut ws, _) = raw_authed(&node, "alice").await;
    ws.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(code(&next_json(&mut ws).await.unwrap()), "bad_frame");
    send_json(&mut ws, json!({"id": "2", "send": {"conversationId": 7}})).await;
    assert_eq!(code(&next_json(&mut ws).await.unwrap()), "bad_frame");
    send_json(&mut ws, json!({"id": "3", "frobnicate": {}})).await;
    let r = next_json(&mut ws).await.unwrap();
    assert_eq!((r["id"].as_str(), code(&r)), (Some("3"), "unknown_request"));
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(code(&next_json(&mut ws).await.unwrap()), "bad_frame");
    send_json(&mut ws, json!({"id": "x".repeat(65), "ping": {}})).await;
    assert_eq!(code(&next_json(&mut ws).await.unwrap()), "invalid_argument");
    send_json(&mut ws, json!({"id": "5", "ping": {"nonce": "42"}})).await;
    let r = next_json(&mut ws).await.unwrap();
    assert_eq!(
        (r["id"].as_str(), r["pong"]["nonce"].as_str()),
        (Some("5"), Some("42"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_protobuf_and_text_on_the_binary_protocol() {
    let node = TestNode::start().await;
    let tokens = node.tokens("alice").await;
    let mut ws = raw(&node.ws_url(), "parley.v1.proto", None).await.unwrap();
    use parley_sdk::pb;
    use prost_free::encode;
    let auth = pb::ClientFrame {
        id: "a".into(),
        request: Some(pb::client_frame::Request::Authenticate(pb::Authenticate {
            access_token: tokens.access_token,
        })),
    };
    ws.send(Message::Binary(encode(&auth).into()))
        .await
        .unwrap();
    let reply = next_binary(&mut ws).await;
    assert!(matches!(
        reply.payload,
        Some(pb::server_frame::Payload::Authenticated(_))
    ));
    ws.send(Message::Binary(vec![0xff, 0xff, 0xff, 0xff].into()))
        .await
        .unwrap();
    let reply = next_binary(&mut ws).await;
    assert!(
        matches!(reply.payload, Some(pb::server_frame::Payload::Error(ref e)) if e.code == "bad_frame"),
        "{reply:?}"
    );
    ws.send(Message::Text("{}".into())).await.unwrap();
    let reply = next_binary(&mut ws).await;
    assert!(
        matches!(reply.payload, Some(pb::server_frame::Payload::Error(ref e)) if e.code == "bad_frame"),
        "{reply:?}"
    );
}

mod prost_free {
    /// Encodes a frame the way a protobuf client would.
    pub fn encode(f: &parley_sdk::pb::ClientFrame) -> Vec<u8> {
        match parley_proto::codec::encode_client(parley_proto::codec::Encoding::Proto, f) {
            parley_proto::codec::Encoded::Binary(b) => b.to_vec(),
            parley_proto::codec::Encoded::Text(_) => unreachable!(),
        }
    }
}

async fn next_binary(ws: &mut common::Raw) -> parley_sdk::pb::ServerFrame {
    use futures::StreamExt;
    loop {
        match tokio::time::timeout(common::WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Binary(b))) => {
                return parley_proto::codec::decode_server_proto(&b).unwrap();
            }
            Some(Ok(Message::Close(c))) => panic!("closed: {c:?}"),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_close_with_1009() {
    let node = TestNode::start().await;
    let (mut ws, _) = raw_authed(&node, "alice").await;
    let big = json!({"id": "1", "ping": {}, "pad": "x".repeat(70 * 1024)});
    let _ = ws.send(Message::Text(big.to_string().into())).await;
    assert_eq!(close_code(&mut ws).await, Some(close_codes::TOO_BIG));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_frame_must_authenticate_with_a_valid_token() {
    let node = TestNode::start().await;
    let tokens = node.tokens("alice").await;
    let url = node.ws_url();

    let mut ws = raw(&url, "parley.v1.json", None).await.unwrap();
    send_json(&mut ws, json!({"id": "1", "ping": {}})).await;
    assert_eq!(code(&next_json(&mut ws).await.unwrap()), "unauthenticated");
    assert_eq!(
        close_code(&mut ws).await,
        Some(close_codes::UNAUTHENTICATED)
    );

    // Forged: payload changed after signing.
    let parts: Vec<&str> = tokens.access_token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        parts[1].chars().rev().collect::<String>(),
        parts[2]
    );
    // alg:none with the real payload and no signature.
    let none_header = base64url(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    for bad in [forged, alg_none, "garbage".to_string()] {
        let mut ws = raw(&url, "parley.v1.json", None).await.unwrap();
        send_json(
            &mut ws,
            json!({"id": "1", "authenticate": {"accessToken": bad}}),
        )
        .await;
        assert_eq!(code(&next_json(&mut ws).await.unwrap()), "unauthenticated");
        assert_eq!(
            close_code(&mut ws).await,
            Some(close_codes::UNAUTHENTICATED)
        );
    }
}

fn base64url(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &v)| acc | (u32::from(v) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_refused_with_their_own_code() {
    let node = TestNode::start_with(|c| {
        c.auth.access_token_ttl_secs = 0;
        c.gateway.token_leeway_secs = 0;
    })
    .await;
    let tokens = node.tokens("alice").await;
    // The token expires within the second it was issued in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut live = None;
    loop {
        let mut ws = raw(&node.ws_url(), "parley.v1.json", None).await.unwrap();
        send_json(
            &mut ws,
            json!({"id": "1", "authenticate": {"accessToken": tokens.access_token}}),
        )
        .await;
        let r = next_json(&mut ws).await.unwrap();
        if code(&r) == "token_expired" {
            assert_eq!(
                close_code(&mut ws).await,
                Some(close_codes::UNAUTHENTICATED)
            );
            break;
        }
        assert!(r.get("authenticated").is_some(), "{r}");
        live.get_or_insert(ws);
        assert!(
            tokio::time::Instant::now() < deadline,
            "token never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Re-authenticating a live connection with the expired token gets the
    // same code (and the connection stays open for a fresh one).
    if let Some(mut ws) = live {
        send_json(
            &mut ws,
            json!({"id": "re", "authenticate": {"accessToken": tokens.access_token}}),
        )
        .await;
        let r = common::reply_to(&mut ws, "re").await.unwrap();
        assert_eq!(code(&r), "token_expired", "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_after_connecting_hits_the_auth_deadline() {
    let node = TestNode::start_with(|c| c.gateway.auth_timeout_ms = 300).await;
    let mut ws = raw(&node.ws_url(), "parley.v1.json", None).await.unwrap();
    assert_eq!(code(&next_json(&mut ws).await.unwrap()), "auth_timeout");
    assert_eq!(close_code(&mut ws).await, Some(close_codes::AUTH_TIMEOUT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_overflow_is_refused_then_cut_off() {
    let node = TestNode::start_with(|c| {
        c.gateway.rate_per_sec = 2;
        c.gateway.rate_burst = 5;
    })
    .await;
    let (mut ws, _) = raw_authed(&node, "alice").await;
    // A burst of 12: the first 5 pass, most of the rest are refused (fewer
    // than the 10 refusals in a row that cut a client off).
    for i in 0..12 {
        send_json(&mut ws, json!({"id": i.to_string(), "ping": {}})).await;
    }
    let mut pongs = 0;
    let mut limited = 0;
    for _ in 0..12 {
        let r = next_json(&mut ws).await.unwrap();
        if r.get("pong").is_some() {
            pongs += 1;
        } else {
            assert_eq!(code(&r), "rate_limited");
            assert!(r["error"]["retryAfterMs"].as_u64().unwrap_or(0) > 0, "{r}");
            limited += 1;
        }
    }
    assert!(
        pongs >= 5 && limited >= 1,
        "{pongs} pongs, {limited} refused"
    );
    // A client that keeps flooding is disconnected.
    for i in 0..200 {
        if ws
            .send(Message::Text(
                json!({"id": i.to_string(), "ping": {}}).to_string().into(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(close_code(&mut ws).await, Some(close_codes::RATE_LIMITED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused() {
    let node = TestNode::start().await;
    let err = raw(
        &node.ws_url(),
        "parley.v1.json",
        Some("https://evil.example"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let same = format!("http://{}", node.node().addr);
    raw(&node.ws_url(), "parley.v1.json", Some(&same))
        .await
        .expect("same origin is allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_that_could_reach_a_subject_or_key_are_refused() {
    let node = TestNode::start().await;
    let (mut ws, _) = raw_authed(&node, "alice").await;
    for bad in ["a.b", "a*", ">", "a b", "x.>"] {
        let send = json!({"id": "1", "send": {"conversationId": bad, "clientMsgId": "m1", "message": {"text": "hi"}}});
        send_json(&mut ws, send).await;
        assert_eq!(
            code(&next_json(&mut ws).await.unwrap()),
            "invalid_argument",
            "{bad}"
        );
        send_json(&mut ws, json!({"id": "2", "createDirect": {"userId": bad}})).await;
        assert_eq!(
            code(&next_json(&mut ws).await.unwrap()),
            "invalid_argument",
            "{bad}"
        );
        send_json(
            &mut ws,
            json!({"id": "3", "history": {"conversationId": bad}}),
        )
        .await;
        assert_eq!(
            code(&next_json(&mut ws).await.unwrap()),
            "invalid_argument",
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_is_refused_everywhere() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user("alice").await;
    let (bob, _b) = node.user("bob").await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    alice.send_text(&dm.id, "private").await.unwrap();
    let (mut ws, mallory) = raw_authed(&node, "mallory").await;
    let c = dm.id.as_str();
    let requests = [
        json!({"send": {"conversationId": c, "clientMsgId": "m1", "message": {"text": "let me in"}}}),
        json!({"history": {"conversationId": c, "fromSeq": "1"}}),
        json!({"getConversation": {"conversationId": c}}),
        json!({"markRead": {"conversationId": c, "seq": "2"}}),
        json!({"typing": {"conversationId": c}}),
        json!({"addMembers": {"conversationId": c, "userIds": [mallory.user_id]}}),
        json!({"removeMember": {"conversationId": c, "userId": bob.user_id()}}),
    ];
    for (i, mut r) in requests.into_iter().enumerate() {
        r["id"] = json!(i.to_string());
        send_json(&mut ws, r.clone()).await;
        let reply = next_json(&mut ws).await.unwrap();
        assert_eq!(code(&reply), "not_found", "{r} -> {reply}");
    }
    send_json(&mut ws, json!({"id": "s", "sync": {}})).await;
    let reply = next_json(&mut ws).await.unwrap();
    assert!(
        reply["sync"]["conversations"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{reply}"
    );
    // Nothing mallory tried changed the conversation.
    let h = bob
        .history(parley_sdk::pb::HistoryRequest {
            conversation_id: dm.id.clone(),
            from_seq: 1,
            to_seq: 0,
            limit: 0,
            backward: false,
            thread_root_seq: 0,
        })
        .await
        .unwrap();
    assert_eq!(h.head_seq, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_slows_no_one() {
    let node = TestNode::start_with(|c| {
        c.gateway.outbound_queue = 4;
        c.gateway.rate_per_sec = 10_000;
        c.gateway.rate_burst = 10_000;
    })
    .await;
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let (mut slow, slow_tokens) = raw_authed(&node, "slowpoke").await;
    let group = alice
        .create_group("firehose", &[bob.user_id(), slow_tokens.user_id.clone()])
        .await
        .unwrap();
    // Big messages fill the socket buffers quickly; then the queue fills.
    let text = "x".repeat(15 * 1024);
    let n = 600;
    for _ in 0..n {
        alice.send_text(&group.id, &text).await.unwrap();
    }
    // bob, who reads, gets everything.
    let got = bob_ev.timeline(&group.id, n + 1).await;
    assert_eq!(got.len(), n + 1);
    // The slow client was cut off: its stream ends (with 4001 if the close
    // frame could still be written into its full socket).
    let code = close_code(&mut slow).await;
    assert!(
        code.is_none() || code == Some(close_codes::RESYNC),
        "closed with {code:?}"
    );
    let metrics = node.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("parley_gateway_slow_consumers_total") && !l.ends_with(" 0")),
        "the close was the slow-consumer rule"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let node = TestNode::start_with(|c| {
        c.gateway.idle_timeout_secs = 2;
        c.gateway.ping_interval_secs = 1;
    })
    .await;
    // Authenticated, then silent: it never reads, so it never answers pings.
    let (_silent, _) = raw_authed(&node, "quiet").await;
    let gauge = || async {
        let body = node.metrics().await;
        body.lines()
            .find(|l| l.starts_with("parley_gateway_connections "))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(gauge().await, 1.0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while gauge().await > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the silent connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A ScyllaDB store that cannot be reached, or is misnamed, stops the node
/// from starting with an error that says which store and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_misnamed_store_is_a_clear_startup_error() {
    // A port that was free a moment ago: nothing answers there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for (store, expected) in [
        (
            format!("scylla://{closed}/parley"),
            "opening the ScyllaDB store",
        ),
        ("scylla://db/bad-name".to_string(), "keyspace"),
        ("cassandra://db".to_string(), "cluster.store must be"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = parley::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        config.cluster.store = store.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let started = tokio::time::timeout(
            Duration::from_secs(30),
            parley::start_embedded(config, listener, None),
        )
        .await
        .expect("startup gives up by itself");
        let err = format!("{:#}", started.err().expect("startup fails"));
        assert!(err.contains(expected), "{store}: {err}");
    }
}
