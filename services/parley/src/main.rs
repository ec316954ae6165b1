//! `parley up` runs everything in one process; `parley <service>` runs one.

use clap::{Parser, Subcommand};
use parley::commands::{self, cluster::Counts};
use parley::split::{ServiceName, run_service};
use parley::{Config, telemetry};
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
    /// Run every service in this process (embedded backends by default).
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
    Migrate {
        /// Instead: import the timelines an older version kept in a redb
        /// file under data_dir into the current store (Parley stopped).
        #[arg(long)]
        from_redb: bool,
    },
    /// Print a new Ed25519 token-signing key (PKCS#8 PEM) for
    /// auth.signing_keys_dir, and exit.
    Keygen,
    /// Write a new cluster CA and a certificate per service for the mutual
    /// TLS of internal calls (cluster.tls_dir): OUT/<service>/{ca.crt,
    /// tls.crt,tls.key}, owner-only, and exit.
    Certs {
        #[arg(long)]
        out: PathBuf,
        /// How long the certificates are valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Also write OUT/ca.key, to issue more certificates later with
        /// the same CA (keep it offline; without it, rotate all at once).
        #[arg(long)]
        keep_ca_key: bool,
    },
    /// Administer accounts straight on the store, then exit (embedded
    /// store: with Parley stopped; ScyllaDB: any time).
    Admin {
        /// The data directory holds split-mode files (auth.redb) rather
        /// than `parley up`'s.
        #[arg(long)]
        split: bool,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Print the effective configuration and exit.
    Config {
        /// As JSON (for tools) instead of a readable listing.
        #[arg(long)]
        json: bool,
        /// Fail, naming each, on settings this mode would not honour:
        /// "up" or a service (gateway, auth, presence, fanout, storage).
        #[arg(long, value_name = "MODE")]
        check: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AdminAction {
    /// Make an account an admin.
    Grant { username: String },
    /// Take the admin role from an account.
    Revoke { username: String },
    /// Set who may register: open, invite_only, closed or sso_only.
    Registration { mode: String },
}

impl Command {
    /// The name this process reports in its telemetry.
    fn service_name(&self) -> &'static str {
        match self {
            Command::Up => "parley",
            Command::Gateway => "parley-gateway",
            Command::Auth => "parley-auth",
            Command::Presence => "parley-presence",
            Command::Fanout => "parley-fanout",
            Command::Storage => "parley-storage",
            Command::Cluster { .. }
            | Command::Config { .. }
            | Command::Migrate { .. }
            | Command::Admin { .. }
            | Command::Keygen
            | Command::Certs { .. } => "parley-cli",
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Whatever this process creates (stores, keys, address files) is the
    // owner's alone.
    parley::private_files::owner_only_umask();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parley: bad configuration: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let _telemetry = telemetry::init(&config.log, cli.command.service_name());
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
    let service = match command {
        Command::Config { json, check } => {
            if let Some(mode) = check {
                parley::mode::check(&config, parley::mode::Mode::parse(&mode)?)?;
            }
            // Secrets never reach a terminal or a CI log.
            let shown = config.redacted();
            if json {
                println!("{}", serde_json::to_string_pretty(&shown)?);
            } else {
                println!("{shown:#?}");
            }
            return Ok(());
        }
        Command::Migrate { from_redb: false } => {
            return commands::migrate::scylla_schema(&config).await;
        }
        Command::Migrate { from_redb: true } => return commands::migrate::from_redb(&config).await,
        Command::Keygen => return commands::keygen::run(),
        Command::Admin { split, action } => {
            let change = match action {
                AdminAction::Grant { username } => commands::admin::Change::Role(username, true),
                AdminAction::Revoke { username } => commands::admin::Change::Role(username, false),
                AdminAction::Registration { mode } => commands::admin::Change::Registration(mode),
            };
            return commands::admin::run(&config, split, change).await;
        }
        Command::Certs {
            out,
            days,
            keep_ca_key,
        } => {
            for dir in parley::internal_tls::generate(&out, days, keep_ca_key)? {
                println!("{}", dir.display());
            }
            return Ok(());
        }
        Command::Up => return commands::up::run(config, stop).await,
        Command::Cluster {
            gateways,
            fanouts,
            storages,
        } => {
            let counts = Counts {
                gateways,
                fanouts,
                storages,
            };
            return commands::cluster::run(config, counts, stop).await;
        }
        Command::Gateway => ServiceName::Gateway,
        Command::Auth => ServiceName::Auth,
        Command::Presence => ServiceName::Presence,
        Command::Fanout => ServiceName::Fanout,
        Command::Storage => ServiceName::Storage,
    };
    run_service(service, config, stop).await
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
