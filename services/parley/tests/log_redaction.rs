//! Logs at every level, `trace` included, carry neither access tokens nor
//! message bodies (one test per binary: it installs the global subscriber).

mod common;

use common::TestNode;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_hold_no_tokens_or_message_bodies() {
    use tracing_subscriber::layer::SubscriberExt;
    let logs = Captured::default();
    let sink = logs.clone();
    let filter = parley::telemetry::with_payload_caps(tracing_subscriber::EnvFilter::new("trace"));
    let subscriber = tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || sink.clone()),
    );
    // As the binary installs it: `log` records (tungstenite, among others)
    // are forwarded to tracing too.
    tracing_subscriber::util::SubscriberInitExt::try_init(subscriber).unwrap();

    let node = TestNode::start().await;
    let (alice, _a) = node.user("alice").await;
    let (bob, mut bob_ev) = node.user("bob").await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let body = "the-secret-body-8d1f";
    alice.send_text(&dm.id, body).await.unwrap();
    bob_ev.timeline(&dm.id, 2).await;
    let token = alice.tokens().access_token;
    let refresh = alice.tokens().refresh_token;
    drop((alice, bob));
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.len() > 1000, "trace logging was captured: {text}");
    assert!(!text.contains(body), "a message body was logged");
    assert!(!text.contains(&token), "an access token was logged");
    assert!(!text.contains(&refresh), "a refresh token was logged");
    assert!(!text.contains(common::PASSWORD), "a password was logged");
}
