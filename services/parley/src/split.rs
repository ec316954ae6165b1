//! One service per process (`parley gateway|auth|presence|fanout|storage`).
//! Each serves its API (gRPC; HTTP/WebSocket for the gateway) and reaches
//! the others through remote clients and the shared bus.

use crate::admin::spawn_admin;
use crate::backends::Backends;
use crate::config::Config;
use crate::internal_tls::InternalTls;
use crate::mode::{self, Mode};
use crate::net::{announce, bind_gateway, grpc_server, internal, serve_grpc, storage_router};
use crate::wire::{self, Clients};
use parley_core::services::{AuthGrpc, FanoutGrpc, PresenceGrpc, StorageGrpc};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use crate::mode::ServiceName;

/// How long a stopping service waits for its last work to leave.
const FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// Runs one service until `stop`.
pub async fn run_service(
    name: ServiceName,
    config: Config,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    mode::check(&config, Mode::Split(name))?;
    crate::private_files::prepare_data_dir(&config, Mode::Split(name))?;
    let tls_dir = config
        .cluster
        .tls_dir
        .as_deref()
        .expect("checked by mode::check");
    let tls = InternalTls::load(tls_dir, Some(name))?;
    let backends = Backends::new(&config, Mode::Split(name));
    spawn_admin(&config, stop.clone()).await?;
    let served = match name {
        ServiceName::Presence => {
            let svc = wire::presence(&config, &backends).await?;
            let router = grpc_server(&tls)?.add_service(internal(PresenceGrpc(svc).into_service()));
            serve_grpc(&config, stop, router).await
        }
        ServiceName::Auth => {
            let svc = wire::auth(&config, &backends).await?;
            let router = grpc_server(&tls)?.add_service(internal(AuthGrpc(svc).into_service()));
            serve_grpc(&config, stop, router).await
        }
        ServiceName::Storage => {
            let svc = wire::storage(&config, &backends).await?;
            let router =
                grpc_server(&tls)?.add_service(internal(StorageGrpc(svc.clone()).into_service()));
            let served = serve_grpc(&config, stop, router).await;
            if !svc.flush_publications(FLUSH_DEADLINE).await {
                tracing::warn!(
                    "stopped with stored events not yet on the bus (clients will sync them)"
                );
            }
            svc.stop_indexing().await;
            served
        }
        ServiceName::Fanout => {
            let storage = storage_router(&config, &tls)?;
            let presence = Clients::remote_presence(&config, &tls)?;
            let fanout = wire::fanout(&config, &backends, storage, presence).await?;
            let router = grpc_server(&tls)?
                .add_service(internal(FanoutGrpc(fanout.service.clone()).into_service()));
            let served = serve_grpc(&config, stop, router).await;
            // Events this worker has not taken stay in the stream for the others.
            backends.close().await;
            fanout.finish(FLUSH_DEADLINE).await;
            served
        }
        ServiceName::Gateway => {
            let clients = Clients::remote(&config, &tls)?;
            let metrics = crate::telemetry::prometheus();
            let gateway = wire::gateway(&config, &backends, clients, metrics).await?;
            let listener = bind_gateway(config.listen)?;
            println!("gateway listening on http://{}/", listener.local_addr()?);
            announce(&config, "http", listener.local_addr()?)?;
            gateway.serve(listener, stop).await.map_err(Into::into)
        }
    };
    backends.close().await;
    served
}
