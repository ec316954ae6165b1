//! `parley up` runs everything in one process; `parley <service>` runs one.

use clap::{Parser, Subcommand};
use parley::cluster::{Cluster, ClusterOptions};
use parley::split::{ServiceName, run_service};
use parley::{Config, start_embedded, telemetry};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's malloc: a fan-out allocates and frees many
/// small buffers on every worker thread, and glibc's per-thread arenas both
/// cost CPU (consolidation, chunk unlinking showed up at ~10% of a loaded
/// node's profile) and keep freed memory as RSS. See docs/benchmarks.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "Parley: self-hosted instant messaging"
)]
struct Cli {
    /// TOML configuration file (settings in PARLEY_* environment variables win).
    #[arg(long, short, global = true, env = "PARLEY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process with embedded backends.
    Up,
    /// Run the gateway alone (split mode).
    Gateway,
    /// Run the auth service alone (split mode).
    Auth,
    /// Run the presence service alone (split mode).
    Presence,
    /// Run the fanout service alone (split mode).
    Fanout,
    /// Run the storage service alone (split mode).
    Storage,
    /// Start a local split-mode cluster: nats-server, redis-server and every
    /// service in its own process, on free loopback ports.
    Cluster {
        #[arg(long, default_value_t = 2)]
        gateways: usize,
        #[arg(long, default_value_t = 2)]
        fanouts: usize,
        #[arg(long, default_value_t = 1)]
        storages: usize,
    },
    /// Apply pending schema migrations to the ScyllaDB store named by
    /// cluster.store (idempotent), then exit.
    Migrate,
    /// Print a new Ed25519 token-signing key (PKCS#8 PEM) for
    /// auth.signing_keys_dir, and exit.
    Keygen,
    /// Print the effective configuration and exit.
    Config {
        /// As JSON (for tools) instead of a readable listing.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parley: bad configuration: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let service = match &cli.command {
        Command::Up => "parley",
        Command::Gateway => "parley-gateway",
        Command::Auth => "parley-auth",
        Command::Presence => "parley-presence",
        Command::Fanout => "parley-fanout",
        Command::Storage => "parley-storage",
        Command::Cluster { .. } | Command::Config { .. } | Command::Migrate | Command::Keygen => {
            "parley-cli"
        }
    };
    let _telemetry = telemetry::init(&config.log, service);
    match run(cli.command, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parley: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    tokio::spawn(signal_to(stop.clone()));
    match command {
        Command::Config { json: false } => {
            println!("{config:#?}");
            Ok(())
        }
        Command::Config { json: true } => {
            println!("{}", serde_json::to_string_pretty(&config)?);
            Ok(())
        }
        Command::Migrate => migrate(&config).await,
        Command::Keygen => {
            let key = parley_jwt::SigningKey::generate().map_err(anyhow::Error::msg)?;
            print!("{}", key.to_pkcs8_pem().map_err(anyhow::Error::msg)?);
            Ok(())
        }
        Command::Up => {
            let listener = parley::split::bind_gateway(config.listen)?;
            let data = config.data_dir.clone();
            let node = start_embedded(config, listener, telemetry::prometheus()).await?;
            let addr = node.addr;
            println!(
                "Parley is running at http://{addr}/  (WebSocket: ws://{addr}/v1/ws, data: {})",
                data.display()
            );
            println!("Open http://{addr}/ in a browser to sign up and chat.");
            println!("Press Ctrl-C to stop.");
            stop.cancelled().await;
            println!("Shutting down: telling clients to reconnect, draining...");
            node.shutdown().await?;
            println!("Stopped.");
            Ok(())
        }
        Command::Cluster {
            gateways,
            fanouts,
            storages,
        } => run_cluster(config, [gateways, fanouts, storages], stop).await,
        Command::Gateway => run_service(ServiceName::Gateway, config, stop).await,
        Command::Auth => run_service(ServiceName::Auth, config, stop).await,
        Command::Presence => run_service(ServiceName::Presence, config, stop).await,
        Command::Fanout => run_service(ServiceName::Fanout, config, stop).await,
        Command::Storage => run_service(ServiceName::Storage, config, stop).await,
    }
}

async fn run_cluster(
    config: Config,
    [gateways, fanouts, storages]: [usize; 3],
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let nats = parley_devservers::NatsServer::try_start().map_err(anyhow::Error::msg)?;
    let redis = parley_devservers::RedisServer::try_start().map_err(anyhow::Error::msg)?;
    let dir = config.data_dir.join("cluster");
    let opts = ClusterOptions {
        exe: std::env::current_exe()?,
        dir: dir.clone(),
        nats_url: nats.url(),
        redis_url: redis.url(),
        gateways: gateways.max(1),
        fanouts: fanouts.max(1),
        storages: storages.max(1),
        env: Vec::new(),
    };
    let mut cluster = Cluster::start(opts).await?;
    println!(
        "Parley cluster is running (logs and data in {}):",
        dir.display()
    );
    println!("  nats   {}", nats.url());
    println!("  redis  {}", redis.url());
    for m in cluster.members() {
        let admin = m
            .admin
            .map(|a| format!(", metrics http://{a}/metrics"))
            .unwrap_or_default();
        println!(
            "  {:<10} {} (pid {}{admin})",
            m.name,
            m.addr,
            m.pid().unwrap_or(0)
        );
    }
    for u in cluster.gateway_urls() {
        println!(
            "  clients: {u}/  (WebSocket {}/v1/ws)",
            u.replace("http", "ws")
        );
    }
    println!("Press Ctrl-C to stop.");
    // Say so when a member stops by itself (crashed, or stopped from outside).
    let mut check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = check.tick() => {
                for (name, status) in cluster.reap_exited() {
                    println!("  {name} exited ({status}); the others keep running");
                }
            }
        }
    }
    println!("Stopping: gateways drain first...");
    cluster.shutdown().await;
    drop(nats);
    drop(redis);
    println!("Stopped.");
    Ok(())
}

/// Cancels `stop` on SIGINT or SIGTERM.
async fn signal_to(stop: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    stop.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    stop.cancel();
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let Some(uri) = config.scylla_uri() else {
        anyhow::bail!(
            "cluster.store is {:?}: migrations are for a scylla:// store (the embedded \
             store needs none)",
            config.cluster.store
        );
    };
    let applied = parley_scylla::migrate(uri, &config.scylla).await?;
    let latest = parley_scylla::migrations::latest_version();
    if applied.is_empty() {
        println!("Schema is up to date (version {latest}).");
    } else {
        println!("Applied schema versions {applied:?}; now at version {latest}.");
    }
    Ok(())
}
