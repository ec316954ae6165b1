//! Connection capacity: many authenticated WebSockets held open, the rate
//! they were opened at, and the server memory each one costs.

use crate::procstat;
use crate::report::{ConnectionReport, Latency};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parley_proto::codec::{self, Encoded, Encoding};
use parley_proto::v1 as pb;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub(crate) struct IdlePlan {
    pub gateways: Vec<SocketAddr>,
    pub tokens: Vec<String>,
    pub connections: usize,
    pub concurrency: usize,
    /// Loopback source addresses to spread over (127.0.0.1 ..= 127.0.0.N):
    /// each (source, destination) pair has ~28k ephemeral ports.
    pub source_addrs: u8,
    pub hold: Duration,
    pub server_pids: Vec<u32>,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn open(gateway: SocketAddr, source: IpAddr, token: &str) -> anyhow::Result<Ws> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(gateway).await?;
    stream.set_nodelay(true)?;
    let mut req = format!("ws://{gateway}/v1/ws").into_client_request()?;
    req.headers_mut()
        .insert("sec-websocket-protocol", "parley.v1.proto".parse()?);
    // Small buffers: the loader holds thousands of these too.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await?;
    let auth = pb::ClientFrame {
        id: "a".into(),
        request: Some(pb::client_frame::Request::Authenticate(pb::Authenticate {
            access_token: token.into(),
        })),
    };
    let Encoded::Binary(bytes) = codec::encode_client(Encoding::Proto, &auth) else {
        unreachable!()
    };
    ws.send(Message::Binary(bytes)).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                let f = codec::decode_server_proto(&b)?;
                return match f.payload {
                    Some(pb::server_frame::Payload::Authenticated(_)) => Ok(ws),
                    other => Err(anyhow::anyhow!("authentication refused: {other:?}")),
                };
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(anyhow::anyhow!("closed during authentication")),
        }
    }
}

pub(crate) async fn run(plan: IdlePlan) -> anyhow::Result<ConnectionReport> {
    let rss_before = procstat::total_rss_kb(&plan.server_pids);
    let permits = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        let permits = permits.clone();
        let gateway = plan.gateways[i % plan.gateways.len()];
        let source = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % usize::from(plan.source_addrs.max(1))) as u8,
        ));
        let token = plan.tokens[i % plan.tokens.len()].clone();
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire_owned().await?;
            let t = Instant::now();
            let ws = open(gateway, source, &token).await?;
            Ok::<_, anyhow::Error>((ws, t.elapsed()))
        }));
    }
    let mut held = Vec::with_capacity(plan.connections);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3).expect("valid bounds");
    let mut failures = 0u64;
    let mut first_error = None;
    for t in tasks {
        match t.await? {
            Ok((ws, took)) => {
                let _ = latency.record((took.as_micros() as u64).max(1));
                held.push(ws);
            }
            Err(e) => {
                failures += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let ramp = started.elapsed();
    // Hold them (bounded: below the server's idle timeout), then measure.
    tokio::time::sleep(plan.hold).await;
    let rss_after = procstat::total_rss_kb(&plan.server_pids);
    let open = held.len() as u64;
    for mut ws in held {
        let _ = ws.close(None).await;
    }
    let per_conn = (rss_after.saturating_sub(rss_before) * 1024)
        .checked_div(open)
        .unwrap_or(0);
    Ok(ConnectionReport {
        attempted: plan.connections as u64,
        open,
        failures,
        first_error,
        connects_per_sec: open as f64 / ramp.as_secs_f64().max(0.001),
        connect_latency: Latency::from_us(&latency),
        server_rss_before_kb: rss_before,
        server_rss_after_kb: rss_after,
        server_bytes_per_connection: per_conn,
    })
}
