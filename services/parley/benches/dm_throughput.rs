//! Messages per second from one sender to one receiver through an embedded
//! node over real WebSockets, every delivery checked (order, no loss, no
//! duplicate): `cargo bench -p parley --bench dm_throughput`.
//! Set DM_MESSAGES and DM_WINDOW to change the run.

use parley::{Config, start_embedded};
use parley_sdk::{Client, ClientConfig, ClientEvent};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let messages = env("DM_MESSAGES", 5_000);
    let window = env("DM_WINDOW", 16);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.gateway.rate_per_sec = 1_000_000;
    config.gateway.rate_burst = 1_000_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = start_embedded(config, listener, None).await.unwrap();
    let base = format!("http://{}", node.addr);
    for u in ["sender", "receiver"] {
        parley_sdk::register(&base, u, "bench password")
            .await
            .unwrap();
    }
    let (alice, _a) = Client::login(ClientConfig::new(&base), "sender", "bench password")
        .await
        .unwrap();
    let (bob, mut bob_ev) = Client::login(ClientConfig::new(&base), "receiver", "bench password")
        .await
        .unwrap();
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();

    let start = Instant::now();
    // `window` sends in flight at a time (they share one connection).
    let per_task = messages / window;
    let mut tasks = Vec::new();
    for t in 0..window {
        let alice = alice.clone();
        let conv = dm.id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                alice.send_text(&conv, &format!("{t}-{i}")).await.unwrap();
            }
        }));
    }
    let total = per_task * window;
    let mut next = 2u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while next <= total as u64 + 1 {
        let ev = tokio::time::timeout_at(deadline.into(), bob_ev.recv())
            .await
            .expect("deliveries stalled")
            .expect("client stopped");
        if let ClientEvent::Event(e) = ev {
            if e.seq == 1 {
                continue;
            }
            assert_eq!(e.seq, next, "out of order or duplicate");
            next += 1;
        }
    }
    let el = start.elapsed();
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "1 sender -> 1 receiver: {total} messages in {:.2} s = {:.0} messages/s (window {window}), all delivered once in order",
        el.as_secs_f64(),
        total as f64 / el.as_secs_f64()
    );
    node.shutdown().await.unwrap();
}
