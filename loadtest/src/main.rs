//! `parley-loadtest --url http://127.0.0.1:8080 --scenario group --clients 100 --group-size 10 --rate 1000 --duration 30`

use clap::Parser;
use parley_loadtest::{LoadConfig, Scenario, run};
use parley_sdk::Encoding;
use std::time::Duration;

/// The loader shares the machine with the server it measures: mimalloc
/// spends less CPU per delivery than glibc's malloc, leaving more to the server.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "parley-loadtest",
    about = "Open-loop load against Parley gateways, every delivery verified"
)]
struct Args {
    /// Gateway base URL (repeat for several gateways).
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    #[arg(long, value_enum, default_value = "group")]
    scenario: Scenario,
    /// Users, one connection each.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    group_size: usize,
    /// Group scenario: this many groups over the --clients users (each user
    /// in several); default: disjoint groups, clients / group-size of them.
    #[arg(long, default_value_t = 0)]
    groups: usize,
    /// Publishes per second, all senders together.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    #[arg(long, default_value_t = 15.0)]
    grace: f64,
    #[arg(long, default_value_t = 100)]
    payload_bytes: usize,
    /// Prefix of the generated usernames (reuse one to skip registration).
    #[arg(long, default_value = "lt")]
    user_prefix: String,
    /// Sign-ins at a time; the gateway lets one address have 2 in progress
    /// (`gateway.sign_ins_per_address`), more are told to wait.
    #[arg(long, default_value_t = 2)]
    login_concurrency: usize,
    /// Use JSON frames instead of protobuf.
    #[arg(long)]
    json: bool,
    /// Server process ids to sample for CPU and RSS.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Idle scenario: connections to open and hold for --duration seconds
    /// (keep it under the server's idle timeout, 90 s by default).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Idle scenario: spread connections over 127.0.0.1..=127.0.0.N.
    #[arg(long, default_value_t = 1)]
    source_addrs: u8,
    /// History scenario: messages to fill the conversation with.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Group and DM scenarios: reactions per message (e.g. 0.25: one
    /// reaction for every four messages), to the newest message.
    #[arg(long, default_value_t = 0.0)]
    reactions_per_message: f64,
    /// Group and DM scenarios: the share of messages sent as replies in the
    /// thread of each conversation's first message (e.g. 0.3).
    #[arg(long, default_value_t = 0.0)]
    thread_replies: f64,
    /// Conversations scenario: conversations of the user whose list is read.
    #[arg(long, default_value_t = 5_000)]
    list_conversations: usize,
    /// Reconnect scenario: shell command that restarts the gateway(s), run
    /// once every client is connected.
    #[arg(long)]
    restart_cmd: Option<String>,
    /// A server's Prometheus endpoint (`http://ADMIN/metrics`) to scrape
    /// every second (repeat for several processes).
    #[arg(long = "server-metrics")]
    metrics_urls: Vec<String>,
    /// Series to keep from the scrapes, by name prefix (repeatable).
    #[arg(long = "watch-metric", default_value = "parley_timeline_")]
    metric_prefixes: Vec<String>,
    /// Write the report as JSON here.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
    /// Write an SVG chart of delivery latency over time here.
    #[arg(long)]
    chart: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let a = Args::parse();
    let cfg = LoadConfig {
        urls: a.urls,
        scenario: a.scenario,
        clients: a.clients,
        group_size: a.group_size,
        groups: a.groups,
        rate: a.rate,
        duration: Duration::from_secs_f64(a.duration),
        warmup: Duration::from_secs_f64(a.warmup),
        grace: Duration::from_secs_f64(a.grace),
        payload_bytes: a.payload_bytes,
        user_prefix: a.user_prefix,
        login_concurrency: a.login_concurrency,
        encoding: if a.json {
            Encoding::Json
        } else {
            Encoding::Proto
        },
        server_pids: a.server_pids,
        max_in_flight: 100_000,
        reactions_per_message: a.reactions_per_message,
        thread_replies: a.thread_replies.clamp(0.0, 1.0),
        progress: true,
        connections: a.connections,
        connect_concurrency: a.connect_concurrency,
        source_addrs: a.source_addrs,
        messages: a.messages,
        list_conversations: a.list_conversations,
        restart_cmd: a.restart_cmd,
        metrics_urls: a.metrics_urls,
        metric_prefixes: a.metric_prefixes,
    };
    match run(cfg).await {
        Ok(report) => {
            print!("{}", report.summary());
            if let Some(path) = a.report {
                let json = serde_json::to_string_pretty(&report).expect("report serializes");
                if let Err(e) = std::fs::write(&path, json) {
                    eprintln!("cannot write {}: {e}", path.display());
                    return std::process::ExitCode::from(2);
                }
            }
            if let Some(path) = a.chart {
                let svg = parley_loadtest::chart::svg(&report);
                if let Err(e) = std::fs::write(&path, svg) {
                    eprintln!("cannot write {}: {e}", path.display());
                    return std::process::ExitCode::from(2);
                }
            }
            if report.correct() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("parley-loadtest: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
