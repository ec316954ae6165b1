use crate::Config;
use crate::backends::Backends;
use parley_core::services::{PresenceClient, StorageClient};
use parley_fanout::{FANOUT_GROUP, FanoutService, run_stored_worker};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The fanout service and its stored-event worker.
pub struct Fanout {
    pub service: Arc<FanoutService>,
    worker: JoinHandle<()>,
    stop: CancellationToken,
}

/// Fanout over storage (member lists) and presence (who is online), with
/// its worker consuming the stored-event stream.
pub async fn fanout(
    config: &Config,
    backends: &Backends,
    storage: StorageClient,
    presence: PresenceClient,
) -> anyhow::Result<Fanout> {
    let bus = backends.bus().await?;
    let service = Arc::new(FanoutService::new(
        storage,
        presence,
        bus.clone(),
        &config.fanout,
    ));
    // Joined before anything can be stored, so no event is missed.
    let consumer = bus.consume_stored(FANOUT_GROUP).await?;
    let stop = CancellationToken::new();
    let worker = tokio::spawn(run_stored_worker(service.clone(), consumer, stop.clone()));
    Ok(Fanout {
        service,
        worker,
        stop,
    })
}

impl Fanout {
    /// Once the bus is closed the worker delivers what it has taken and
    /// ends; past `deadline` it is stopped after its current events.
    pub async fn finish(self, deadline: Duration) {
        let mut worker = self.worker;
        if tokio::time::timeout(deadline, &mut worker).await.is_err() {
            self.stop.cancel();
            let _ = worker.await;
        }
    }
}
