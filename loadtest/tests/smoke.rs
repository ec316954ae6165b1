//! A few seconds of load against an embedded node: checks correctness only.

use parley::{Config, start_embedded};
use parley_loadtest::{LoadConfig, Scenario, run};
use std::time::Duration;

async fn node() -> (tempfile::TempDir, parley::RunningNode) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.auth.hash_concurrency = 2;
    // One loader user creates every conversation of the list scenario.
    config.gateway.conversations_per_hour = 100_000;
    config.gateway.conversations_burst = 1_000;
    // The load is groups of strangers, added directly.
    config.gateway.invitations = parley_gateway::Invitations::Never;
    config.gateway.registrations_per_hour_per_address = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = start_embedded(config, listener, None).await.unwrap();
    (dir, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_and_dm_runs_are_correct() {
    let (_dir, node) = node().await;
    for (scenario, prefix) in [(Scenario::Group, "g"), (Scenario::Dm, "d")] {
        let mut cfg = LoadConfig::new(format!("http://{}", node.addr));
        cfg.scenario = scenario;
        cfg.clients = 6;
        cfg.group_size = 3;
        cfg.rate = 60.0;
        cfg.warmup = Duration::from_millis(200);
        cfg.duration = Duration::from_secs(1);
        cfg.user_prefix = prefix.into();
        cfg.server_pids = vec![std::process::id()];
        let report = run(cfg).await.unwrap();
        println!("{}", report.summary());
        assert!(report.correct(), "{}", report.summary());
        assert!(report.publishes >= 60, "{}", report.publishes);
        assert_eq!(report.acked, report.publishes);
        assert_eq!(report.deliveries, report.deliveries_expected);
        assert!(report.delivery_latency.count > 0 && report.ack_latency.count > 0);
        assert!(!report.timeline.is_empty(), "per-second latency recorded");
        let second = report.seconds.first().expect("per-second machine samples");
        assert!(second.machine_busy_percent > 0.0 && second.server_cpu_percent > 0.0);
        assert!(second.server_rss_kb > 0);
        let svg = parley_loadtest::chart::svg(&report);
        assert!(svg.starts_with("<svg") && svg.contains("polyline"));
    }
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_groups_are_verified_per_member() {
    let (_dir, node) = node().await;
    let mut cfg = LoadConfig::new(format!("http://{}", node.addr));
    cfg.clients = 6;
    cfg.group_size = 3;
    cfg.groups = 8;
    cfg.rate = 80.0;
    cfg.warmup = Duration::from_millis(200);
    cfg.duration = Duration::from_secs(1);
    cfg.user_prefix = "o".into();
    let report = run(cfg).await.unwrap();
    println!("{}", report.summary());
    assert!(report.correct(), "{}", report.summary());
    assert_eq!(report.conversations, 8);
    assert_eq!(report.acked, report.publishes);
    assert_eq!(report.deliveries, report.deliveries_expected);
    assert_eq!(report.deliveries_expected, report.publishes * 3);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_opened_authenticated_and_measured() {
    let (_dir, node) = node().await;
    let mut cfg = LoadConfig::new(format!("http://{}", node.addr));
    cfg.scenario = Scenario::Idle;
    cfg.clients = 2;
    cfg.connections = 50;
    cfg.connect_concurrency = 16;
    cfg.source_addrs = 2;
    cfg.duration = Duration::from_millis(200);
    cfg.server_pids = vec![std::process::id()];
    let report = run(cfg).await.unwrap();
    println!("{}", report.summary());
    assert!(report.correct(), "{}", report.summary());
    let c = report.connections.unwrap();
    assert_eq!((c.open, c.failures), (50, 0));
    assert!(c.connects_per_sec > 0.0);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_beside_the_messages_leave_every_check_intact() {
    let (_dir, node) = node().await;
    let mut cfg = LoadConfig::new(format!("http://{}", node.addr));
    cfg.clients = 20;
    cfg.group_size = 5;
    cfg.rate = 200.0;
    cfg.duration = Duration::from_secs(3);
    cfg.warmup = Duration::from_secs(1);
    cfg.reactions_per_message = 0.5;
    let report = run(cfg).await.unwrap();
    println!("{}", report.summary());
    assert!(report.correct(), "{}", report.summary());
    assert!(report.reactions_sent > 100, "{}", report.summary());
    assert!(
        report.reactions_refused * 10 < report.reactions_sent,
        "{}",
        report.summary()
    );
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_read_back_completely() {
    let (_dir, node) = node().await;
    let mut cfg = LoadConfig::new(format!("http://{}", node.addr));
    cfg.scenario = Scenario::History;
    cfg.messages = 800;
    let report = run(cfg).await.unwrap();
    println!("{}", report.summary());
    assert!(report.correct(), "{}", report.summary());
    let h = report.history.unwrap();
    assert_eq!((h.head_seq, h.events, h.pages), (801, 801, 2));
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_list_comes_in_pages_with_unread_counts() {
    let (_dir, node) = node().await;
    let mut cfg = LoadConfig::new(format!("http://{}", node.addr));
    cfg.scenario = Scenario::Conversations;
    cfg.list_conversations = 230;
    let report = run(cfg).await.unwrap();
    println!("{}", report.summary());
    assert!(report.correct(), "{}", report.summary());
    let c = report.conversation_list.unwrap();
    // 230 conversations are two pages of the default 200.
    assert_eq!((c.listed, c.checked, c.pages_per_round), (1150, 1150, 2));
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_comes_back_after_a_restart() {
    let (dir, node) = node().await;
    let addr = node.addr;
    let mut cfg = LoadConfig::new(format!("http://{addr}"));
    cfg.scenario = Scenario::Reconnect;
    cfg.clients = 12;
    cfg.duration = Duration::from_secs(20);
    let after = std::sync::Arc::new(tokio::sync::Mutex::new(None));
    let keep = after.clone();
    let data = dir.path().to_path_buf();
    // The node restarts on the same address with the same data.
    let restart = async move {
        node.shutdown().await?;
        let mut config = Config {
            data_dir: data,
            ..Config::default()
        };
        config.auth.hash_concurrency = 2;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        *keep.lock().await = Some(start_embedded(config, listener, None).await?);
        Ok(())
    };
    let report = parley_loadtest::reconnect_report(&cfg, restart)
        .await
        .unwrap();
    println!("{}", report.summary());
    assert!(report.correct(), "{}", report.summary());
    let r = report.reconnect.unwrap();
    assert_eq!((r.dropped, r.reconnected), (12, 12));
    if let Some(n) = after.lock().await.take() {
        n.shutdown().await.unwrap();
    }
}
