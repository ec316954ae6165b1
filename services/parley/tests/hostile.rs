//! What a hostile or careless client can do to the gateway, and to the
//! other people on it: replies too large for one frame, clients that stop
//! reading, frames that are almost right.

mod common;

use common::{
    TestNode, close_code, next_json, raw_authed, raw_authed_small_window, reply_to, send_json,
};
use futures::SinkExt;
use parley_gateway::close_codes;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

fn code(v: &serde_json::Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A ping answered on `ws` (the connection is alive and being served).
async fn assert_alive(ws: &mut common::Raw, id: &str) {
    send_json(ws, json!({"id": id, "ping": {"nonce": "1"}})).await;
    let r = reply_to(ws, id).await.expect("the connection was closed");
    assert!(r.get("pong").is_some(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_long_messages_comes_in_pages_on_a_live_connection() {
    let node = TestNode::start().await;
    let (alice, _a) = node.user("alice").await;
    let (mut bob, bob_tokens) = raw_authed(&node, "bob").await;
    let dm = alice.create_direct(&bob_tokens.user_id).await.unwrap();
    let long = "x".repeat(16 * 1024);
    for _ in 0..40 {
        alice.send_text(&dm.id, &long).await.unwrap();
    }
    // 40 x 16 KiB used to be one frame over the write limit: the socket
    // dropped with no close frame.
    let mut from = 1;
    let mut events = 0;
    let mut pages = 0;
    loop {
        let id = format!("h{pages}");
        let req = json!({"id": id, "history": {
            "conversationId": dm.id, "fromSeq": from, "limit": 500}});
        send_json(&mut bob, req).await;
        let r = reply_to(&mut bob, &id).await.expect("history answered");
        let h = &r["history"];
        events += h["events"].as_array().map_or(0, |e| e.len());
        pages += 1;
        if h["hasMore"] != true {
            break;
        }
        from = h["coveredTo"].as_str().unwrap().parse::<u64>().unwrap() + 1;
    }
    assert!(pages > 1, "long messages are split over pages");
    assert!(events >= 40, "{events}");
    assert_alive(&mut bob, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_a_user_in_hundreds_of_conversations_is_paged() {
    // Alice creates the 400 groups as fast as the test can ask.
    let node = TestNode::start_with(|c| {
        c.gateway.rate_per_sec = 10_000;
        c.gateway.rate_burst = 10_000;
        c.gateway.conversations_per_hour = 100_000;
        c.gateway.conversations_burst = 1_000;
    })
    .await;
    let (alice, _a) = node.user("alice").await;
    let (mut bob, bob_tokens) = raw_authed(&node, "bob").await;
    // 400 long titles: about 360 KB of sync, once one frame.
    let title: String = "\u{1D11E}".repeat(190);
    for i in 0..400 {
        let name = format!("{i:03}{title}");
        alice
            .create_group(&name, std::slice::from_ref(&bob_tokens.user_id))
            .await
            .unwrap();
    }
    let mut after = String::new();
    let mut seen = 0;
    let mut pages = 0;
    loop {
        send_json(&mut bob, json!({"id": "s", "sync": {"after": after}})).await;
        let r = reply_to(&mut bob, "s").await.expect("sync answered");
        seen += r["sync"]["conversations"].as_array().unwrap().len();
        pages += 1;
        if r["sync"]["hasMore"] != true {
            break;
        }
        after = r["sync"]["nextAfter"].as_str().unwrap().to_string();
    }
    assert_eq!(seen, 400);
    assert!(pages > 1);
    assert_alive(&mut bob, "p").await;
    send_json(&mut bob, json!({"id": "big", "sync": {"limit": 501}})).await;
    let r = reply_to(&mut bob, "big").await.unwrap();
    assert_eq!(
        (r["id"].as_str(), code(&r)),
        (Some("big"), "invalid_argument")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_wait_for_a_slow_reader_instead_of_cutting_it() {
    let node = TestNode::start_with(|c| {
        c.gateway.outbound_bytes_per_connection = 0; // the minimum: one frame
    })
    .await;
    let (alice, _a) = node.user("alice").await;
    let (mut bob, bob_tokens) = raw_authed(&node, "bob").await;
    let dm = alice.create_direct(&bob_tokens.user_id).await.unwrap();
    let long = "y".repeat(16 * 1024);
    for _ in 0..12 {
        alice.send_text(&dm.id, &long).await.unwrap();
    }
    // 30 pipelined requests of ~100 KB replies: 3 MB, three times what the
    // connection may have queued. They are answered as bob reads.
    for i in 0..30 {
        let req =
            json!({"id": format!("h{i}"), "history": {"conversationId": dm.id, "fromSeq": 1}});
        send_json(&mut bob, req).await;
    }
    for i in 0..30 {
        let r = reply_to(&mut bob, &format!("h{i}"))
            .await
            .expect("every reply comes");
        assert!(r.get("history").is_some(), "{r}");
    }
    assert_alive(&mut bob, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_reading_connections_are_cut_within_the_gateway_budget() {
    let budget = 6 * 1024 * 1024;
    let node = TestNode::start_with(|c| {
        c.gateway.outbound_bytes_total = budget;
        c.gateway.rate_per_sec = 10_000;
        c.gateway.rate_burst = 10_000;
    })
    .await;
    let gw = node.node().gateway.clone();
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    // 16 connections of one account that never read again.
    let mut sinks = Vec::new();
    let mut sink_id = String::new();
    for _ in 0..16 {
        let (ws, tokens) = raw_authed_small_window(&node, "sink", 16 * 1024).await;
        sink_id = tokens.user_id.clone();
        sinks.push(ws);
    }
    let group = alice
        .create_group("firehose", &[bob.user_id(), sink_id])
        .await
        .unwrap();
    let text = "z".repeat(15 * 1024);
    let n = 300; // 4.5 MB to each of 16 sinks: 72 MB if nothing bounded it
    for _ in 0..n {
        alice.send_text(&group.id, &text).await.unwrap();
    }
    // The bystander gets everything.
    assert_eq!(bob_ev.timeline(&group.id, n + 1).await.len(), n + 1);
    // Every sink was cut, and what they held is released.
    for mut ws in sinks {
        let code = close_code(&mut ws).await;
        assert!(
            code.is_none() || code == Some(close_codes::RESYNC),
            "{code:?}"
        );
    }
    // They were cut by the slow-consumer rule (not by anything else).
    let cut = node
        .metrics()
        .await
        .lines()
        .find(|l| l.starts_with("parley_gateway_slow_consumers_total"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(cut >= 16.0, "{cut} slow-consumer cuts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gw.outbound_bytes() > 64 * 1024 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} bytes still held",
            gw.outbound_bytes()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_keep_their_request_id() {
    let node = TestNode::start().await;
    let (mut ws, _) = raw_authed(&node, "alice").await;
    ws.send(Message::Text(
        r#"{"id":"c1","ping":{"nonce":"abc"}}"#.into(),
    ))
    .await
    .unwrap();
    let r = next_json(&mut ws).await.unwrap();
    assert_eq!((r["id"].as_str(), code(&r)), (Some("c1"), "bad_frame"));
    ws.send(Message::Text(r#"{"id":"c2","ping":{},"sync":{}}"#.into()))
        .await
        .unwrap();
    let r = next_json(&mut ws).await.unwrap();
    assert_eq!((r["id"].as_str(), code(&r)), (Some("c2"), "bad_frame"));
    assert_alive(&mut ws, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let node = TestNode::start().await;
    let (mut ws, _) = raw_authed(&node, "alice").await;
    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(bad)).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(close_codes::INVALID_DATA));
}

/// What one malformed input must get.
enum Expect {
    /// An error with this code, the frame's id if it had one, and the
    /// connection stays usable.
    Error(&'static str, &'static str),
    /// The connection is closed with this code.
    Close(u16),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_matrix_leaves_bystanders_unaffected() {
    let node = TestNode::start().await;
    let (mut bystander, _) = raw_authed(&node, "bystander").await;
    let deep = format!(
        r#"{{"id":"d","ping":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let long_id = format!(r#"{{"id":"{}","ping":{{}}}}"#, "i".repeat(200));
    let text = |s: String| Message::Text(s.into());
    let cases: Vec<(&str, Message, Expect)> = vec![
        (
            "not json",
            text("{oops".into()),
            Expect::Error("", "bad_frame"),
        ),
        (
            "wrong field type",
            text(r#"{"id":"t","ping":{"nonce":"abc"}}"#.into()),
            Expect::Error("t", "bad_frame"),
        ),
        (
            "two requests",
            text(r#"{"id":"two","ping":{},"typing":{}}"#.into()),
            Expect::Error("two", "bad_frame"),
        ),
        (
            "no request",
            text(r#"{"id":"none"}"#.into()),
            Expect::Error("none", "unknown_request"),
        ),
        (
            "unknown request",
            text(r#"{"id":"u","teleport":{}}"#.into()),
            Expect::Error("u", "unknown_request"),
        ),
        (
            "nesting 5000 deep",
            text(deep),
            Expect::Error("d", "bad_frame"),
        ),
        (
            "a 200-byte id",
            text(long_id),
            Expect::Error("", "invalid_argument"),
        ),
        (
            "binary on the JSON subprotocol",
            Message::Binary(vec![0x0a, 0x01, b'x'].into()),
            Expect::Error("", "bad_frame"),
        ),
        (
            "a frame over 64 KiB",
            text(format!(
                r#"{{"id":"big","ping":{{}},"x":"{}"}}"#,
                "x".repeat(70_000)
            )),
            Expect::Close(close_codes::TOO_BIG),
        ),
        (
            "invalid UTF-8",
            Message::Frame(Frame::message(
                vec![b'{', 0xc3, 0x28, b'}'],
                OpCode::Data(Data::Text),
                true,
            )),
            Expect::Close(close_codes::INVALID_DATA),
        ),
    ];
    for (i, (what, msg, expect)) in cases.into_iter().enumerate() {
        let (mut ws, _) = raw_authed(&node, "attacker").await;
        ws.send(msg).await.unwrap();
        match expect {
            Expect::Error(id, want) => {
                let r = next_json(&mut ws)
                    .await
                    .unwrap_or_else(|c| panic!("{what}: closed {c:?}"));
                assert_eq!(
                    (r["id"].as_str().unwrap_or(""), code(&r)),
                    (id, want),
                    "{what}: {r}"
                );
                assert_alive(&mut ws, "after").await;
            }
            Expect::Close(want) => {
                assert_eq!(close_code(&mut ws).await, Some(want), "{what}");
            }
        }
        assert_alive(&mut bystander, &format!("b{i}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_cannot_start_conversations_in_a_flood() {
    let node = TestNode::start_with(|c| {
        c.gateway.conversations_per_hour = 60;
        c.gateway.conversations_burst = 5;
    })
    .await;
    let (mallory, _m) = node.user("mallory").await;
    let (bob, _b) = node.user("bob").await;
    for i in 0..5 {
        mallory
            .create_group(&format!("spam {i}"), &[bob.user_id()])
            .await
            .unwrap();
    }
    let err = mallory
        .create_group("spam 5", &[bob.user_id()])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("rate_limited"));
    let err = mallory.create_direct(&bob.user_id()).await.unwrap_err();
    assert_eq!(err.code(), Some("rate_limited"));
    // Someone else is not affected, and nothing more was created for bob.
    bob.create_direct(&mallory.user_id()).await.unwrap();
    assert_eq!(bob.sync().await.unwrap().conversations.len(), 6);
}
