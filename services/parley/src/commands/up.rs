use crate::config::Config;
use crate::{net, node, telemetry};
use tokio_util::sync::CancellationToken;

/// `parley up`: runs every service in this process until `stop`.
pub async fn run(config: Config, stop: CancellationToken) -> anyhow::Result<()> {
    let listener = net::bind_gateway(config.listen)?;
    let data = config.data_dir.clone();
    let node = node::start_embedded(config, listener, telemetry::prometheus()).await?;
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
