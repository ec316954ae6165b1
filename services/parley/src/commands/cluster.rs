use crate::cluster::{Cluster, ClusterOptions};
use crate::config::Config;
use parley_devservers::{NatsServer, RedisServer};
use tokio_util::sync::CancellationToken;

/// How many of each service `parley cluster` starts.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub gateways: usize,
    pub fanouts: usize,
    pub storages: usize,
}

/// `parley cluster`: a local split-mode cluster (its own nats-server and
/// redis-server, every service in its own process) until `stop`.
pub async fn run(config: Config, counts: Counts, stop: CancellationToken) -> anyhow::Result<()> {
    let nats = NatsServer::try_start().map_err(anyhow::Error::msg)?;
    let redis = RedisServer::try_start().map_err(anyhow::Error::msg)?;
    let dir = config.data_dir.join("cluster");
    let opts = ClusterOptions {
        exe: std::env::current_exe()?,
        dir: dir.clone(),
        nats_url: nats.url(),
        redis_url: redis.url(),
        gateways: counts.gateways.max(1),
        fanouts: counts.fanouts.max(1),
        storages: counts.storages.max(1),
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
