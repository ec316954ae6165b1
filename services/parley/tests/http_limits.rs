//! The HTTP edge against slow and greedy clients: header and body
//! tricklers and silent sockets are closed, one address cannot take every
//! connection, and the connection cap answers clearly.

mod common;

use common::{TestNode, raw_authed};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const DEADLINE: Duration = Duration::from_secs(15);

async fn tight_node(tweak: impl FnOnce(&mut parley::Config)) -> TestNode {
    TestNode::start_with(|c| {
        c.gateway.http_header_timeout_secs = 1;
        c.gateway.http_request_timeout_secs = 1;
        tweak(c);
    })
    .await
}

/// A connection to the node from source address `from` (any 127.x.y.z).
async fn connect_from(node: &TestNode, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("loopback source address");
    socket.connect(node.node().addr).await.unwrap()
}

/// Everything the server sends until it closes (within the deadline).
async fn read_until_closed(tcp: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tcp.read_to_end(&mut got);
    match tokio::time::timeout(DEADLINE, read).await {
        Ok(_) => String::from_utf8_lossy(&got).into_owned(),
        Err(_) => panic!("the server kept the connection open"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_and_header_tricklers_are_closed() {
    let node = tight_node(|_| {}).await;
    let mut silent = connect_from(&node, [127, 0, 0, 1]).await;
    let mut trickler = connect_from(&node, [127, 0, 0, 1]).await;
    trickler
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    read_until_closed(&mut silent).await;
    read_until_closed(&mut trickler).await;
    // An idle keep-alive connection goes the same way after its request.
    let mut idle = connect_from(&node, [127, 0, 0, 1]).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408() {
    let node = tight_node(|_| {}).await;
    let mut tcp = connect_from(&node, [127, 0, 0, 1]).await;
    tcp.write_all(
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"user",
    )
    .await
    .unwrap();
    let answer = read_until_closed(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_unauthenticated_connection() {
    let node = tight_node(|c| {
        c.gateway.max_unauthenticated_per_address = 8;
        c.gateway.http_header_timeout_secs = 30;
    })
    .await;
    // Signed-in WebSockets from the address do not count against it.
    let mut signed_in = Vec::new();
    for _ in 0..10 {
        signed_in.push(raw_authed(&node, "office").await.0);
    }
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(connect_from(&node, [127, 0, 0, 7]).await);
    }
    let mut one_more = connect_from(&node, [127, 0, 0, 7]).await;
    let answer = read_until_closed(&mut one_more).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    // A bystander elsewhere signs in as usual.
    let mut bystander = connect_from(&node, [127, 0, 0, 8]).await;
    bystander
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut bystander).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Closing the held ones frees the address.
    drop(held);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut again = connect_from(&node, [127, 0, 0, 7]).await;
        again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        if read_until_closed(&mut again)
            .await
            .starts_with("HTTP/1.1 200")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slots not freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_answers_503() {
    let node = tight_node(|c| {
        c.gateway.max_connections = 12;
        c.gateway.http_header_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for i in 0..12u8 {
        held.push(connect_from(&node, [127, 0, 1, i + 1]).await);
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while node.node().gateway.tcp_connections() < 12 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut over = connect_from(&node, [127, 0, 2, 1]).await;
    let answer = read_until_closed(&mut over).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(held);
    while node.node().gateway.tcp_connections() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections not released"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
