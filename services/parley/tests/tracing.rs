//! One send is one trace: gateway -> storage (gRPC metadata) -> publisher ->
//! fanout (NATS headers) -> receiving gateway (NATS headers). The services
//! run in this process but talk exactly as in split mode (remote gRPC
//! clients, a real nats-server), so only propagation can join their spans.

mod common;

use common::announced;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use parley::Config;
use parley::split::{ServiceName, run_service};
use parley_sdk::{Client, ClientConfig, ClientEvent};
use parley_testkit::NatsServer;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_send_is_one_trace_across_services() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    parley::telemetry::install("info", Some(provider.tracer("test")));

    let nats = NatsServer::start();
    let root = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let certs = root.path().join("tls");
    parley::internal_tls::generate(&certs, 1, false).unwrap();
    let base = |name: &str| {
        let mut c = Config {
            data_dir: root.path().join(name),
            ..Config::default()
        };
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.cluster.grpc_listen = "127.0.0.1:0".parse().unwrap();
        c.cluster.announce = true;
        c.cluster.tls_dir = Some(certs.join(name));
        c.cluster.bus = nats.url();
        c.auth.hash_concurrency = 2;
        c
    };
    let mut urls = Vec::new();
    for (name, svc) in [
        ("auth", ServiceName::Auth),
        ("presence", ServiceName::Presence),
        ("storage", ServiceName::Storage),
    ] {
        tokio::spawn(run_service(svc, base(name), stop.clone()));
        urls.push(format!(
            "https://{}",
            announced(&root.path().join(name), "grpc").await
        ));
    }
    let with_deps = |name: &str| {
        let mut c = base(name);
        c.cluster.auth_url = urls[0].clone();
        c.cluster.presence_url = urls[1].clone();
        c.cluster.storage_urls = vec![urls[2].clone()];
        c
    };
    tokio::spawn(run_service(
        ServiceName::Fanout,
        with_deps("fanout"),
        stop.clone(),
    ));
    let fanout = format!(
        "https://{}",
        announced(&root.path().join("fanout"), "grpc").await
    );
    let mut gw = with_deps("gateway");
    gw.cluster.fanout_urls = vec![fanout];
    tokio::spawn(run_service(ServiceName::Gateway, gw, stop.clone()));
    let gateway = format!(
        "http://{}",
        announced(&root.path().join("gateway"), "http").await
    );

    for u in ["alice", "bob"] {
        parley_sdk::register(&gateway, u, common::PASSWORD)
            .await
            .unwrap();
    }
    let (alice, _a) = Client::login(ClientConfig::new(&gateway), "alice", common::PASSWORD)
        .await
        .unwrap();
    let (bob, bob_rx) = Client::login(ClientConfig::new(&gateway), "bob", common::PASSWORD)
        .await
        .unwrap();
    let mut bob_ev = common::Events(bob_rx);
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let ack = alice.send_text(&dm.id, "trace me").await.unwrap();
    bob_ev
        .wait(|e| matches!(e, ClientEvent::Event(ev) if ev.seq == ack.seq).then_some(()))
        .await;

    // The send's spans end asynchronously (publication, fanout, delivery).
    let deadline = Instant::now() + Duration::from_secs(20);
    let wanted = ["rpc", "publish_stored", "fanout", "bus_delivery", "deliver"];
    loop {
        let _ = provider.force_flush();
        let spans = exporter.get_finished_spans().unwrap();
        let send = spans
            .iter()
            .find(|s| s.name == "request" && attr(s, "kind").as_deref() == Some("send"));
        if let Some(send) = send {
            let trace = send.span_context.trace_id();
            let in_trace: Vec<&SpanData> = spans
                .iter()
                .filter(|s| s.span_context.trace_id() == trace)
                .collect();
            let names: Vec<&str> = in_trace.iter().map(|s| s.name.as_ref()).collect();
            let has_append = in_trace.iter().any(|s| {
                s.name == "rpc" && attr(s, "method").as_deref() == Some("StorageApi/append")
            });
            if has_append && wanted.iter().all(|w| names.contains(w)) {
                println!("one trace {trace} holds: {names:?}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace} only holds {names:?}"
            );
        } else {
            assert!(Instant::now() < deadline, "no span for the send request");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
}
