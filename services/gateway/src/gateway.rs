use crate::admission::Admission;
use crate::http_server::HttpLimits;
use crate::registry::Registry;
use crate::revocations::{Revocations, catch_up, spawn_poller};
use crate::tokens::TokenCheck;
use crate::ws::GatewayBudget;
use crate::{GatewayConfig, GatewayError};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use parley_core::services::{AuthClient, FanoutClient, PresenceClient, StorageClient};
use parley_ports::EventBus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a gateway talks to.
#[derive(Clone)]
pub struct GatewayDeps {
    pub storage: StorageClient,
    pub auth: AuthClient,
    pub presence: PresenceClient,
    pub fanout: FanoutClient,
    pub bus: Arc<dyn EventBus>,
    /// Renders /metrics when set.
    pub metrics: Option<PrometheusHandle>,
    /// `iss` and `aud` access tokens must carry.
    pub token_issuer: String,
    pub token_audience: String,
    /// Access tokens valid for longer than this (`exp - iat`) are refused:
    /// the issuer's access-token TTL.
    pub token_max_lifetime_secs: u64,
    /// How often each connection refreshes its presence.
    pub presence_heartbeat: Duration,
}

pub struct Gateway {
    pub(crate) config: GatewayConfig,
    pub(crate) storage: StorageClient,
    pub(crate) auth: AuthClient,
    pub(crate) presence: PresenceClient,
    pub(crate) fanout: FanoutClient,
    pub(crate) tokens: TokenCheck,
    /// Sessions ended before their access tokens expire (what `tokens` refuses).
    pub(crate) revoked: Arc<Revocations>,
    pub(crate) registry: Registry,
    /// Bytes queued for all connections.
    pub(crate) outbound: GatewayBudget,
    pub(crate) metrics: Option<PrometheusHandle>,
    pub(crate) heartbeat_interval: Duration,
    /// Which TCP connections are taken (total and per-address caps).
    admission: Arc<Admission>,
    /// Sign-ins in progress per address.
    pub(crate) sign_ins: Arc<crate::per_address::PerAddress>,
    /// Conversations each user may still start.
    pub(crate) creations: crate::creation_limit::CreationLimit,
    /// Single sign-ons each address may still start (60 an hour, bursts of 20).
    pub(crate) sso_starts: crate::hourly_limit::HourlyLimit<std::net::IpAddr>,
    /// Accounts each address may still create (None: no limit).
    pub(crate) registrations: Option<crate::hourly_limit::HourlyLimit<std::net::IpAddr>>,
    /// Backoff after failed logins (per account, address and both).
    pub(crate) logins: crate::login_throttle::LoginThrottle,
    ready: AtomicBool,
    /// Cancelled when the gateway starts draining.
    pub(crate) shutdown: CancellationToken,
    /// Connection tasks and fire-and-forget signals, awaited on drain.
    pub(crate) tracker: TaskTracker,
}

impl Gateway {
    /// Builds a gateway; fetches the JWKS from auth first.
    pub async fn new(deps: GatewayDeps, config: GatewayConfig) -> Result<Arc<Self>, GatewayError> {
        let keep = Duration::from_secs(deps.token_max_lifetime_secs + config.token_leeway_secs);
        let revoked = Arc::new(Revocations::new(keep));
        let tokens = TokenCheck::new(
            deps.auth.clone(),
            &deps.token_issuer,
            &deps.token_audience,
            config.token_leeway_secs,
            deps.token_max_lifetime_secs,
            revoked.clone(),
        )
        .await
        .map_err(GatewayError::Jwks)?;
        // Subscribed before the first read of the log: a revocation between
        // the two is heard on the bus.
        let registry =
            Registry::start(deps.bus, config.max_connections_per_user, revoked.clone()).await?;
        // Since 0: auth answers from as far back as a token can live.
        let since = catch_up(&deps.auth, &revoked, 0, |_| {})
            .await
            .map_err(|e| GatewayError::Jwks(format!("reading revoked sessions: {e}")))?;
        let poll_every = Duration::from_secs(config.revocation_poll_secs.max(1));
        let gw = Arc::new(Self {
            registry,
            revoked,
            outbound: GatewayBudget::new(config.outbound_bytes_total),
            sign_ins: crate::per_address::PerAddress::new(config.sign_ins_per_address),
            logins: Default::default(),
            sso_starts: crate::hourly_limit::HourlyLimit::new(60, 20),
            registrations: match config.registrations_per_hour_per_address {
                0 => None,
                n => Some(crate::hourly_limit::HourlyLimit::new(n, n)),
            },
            creations: crate::creation_limit::CreationLimit::new(
                config.conversations_per_hour,
                config.conversations_burst,
            ),
            admission: Admission::new(
                config.max_connections(),
                config.max_unauthenticated_per_address,
            ),
            config,
            storage: deps.storage,
            auth: deps.auth,
            presence: deps.presence,
            fanout: deps.fanout,
            tokens,
            metrics: deps.metrics,
            heartbeat_interval: deps.presence_heartbeat.max(Duration::from_millis(100)),
            ready: AtomicBool::new(true),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        spawn_poller(Arc::downgrade(&gw), since, poll_every);
        Ok(gw)
    }

    pub fn router(self: &Arc<Self>) -> Router {
        crate::http::router(self.clone())
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn connection_count(&self) -> usize {
        self.registry.connection_count()
    }

    /// TCP connections open now (HTTP and WebSocket, authenticated or not).
    pub fn tcp_connections(&self) -> usize {
        self.admission.open()
    }

    /// Bytes queued for all connections and not yet flushed to them.
    pub fn outbound_bytes(&self) -> usize {
        self.outbound.in_use()
    }

    /// Serves HTTP and WebSockets on `listener` until `stop` is cancelled,
    /// then drains: not ready -> stop accepting -> tell clients to
    /// reconnect elsewhere -> wait for them (at most the drain timeout).
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        stop: CancellationToken,
    ) -> Result<(), GatewayError> {
        let app = self.router();
        let gw = self.clone();
        let http_stop = CancellationToken::new();
        let http_stop2 = http_stop.clone();
        let limits = HttpLimits {
            header_timeout: self.config.http_header_timeout(),
        };
        let admission = self.admission.clone();
        let server = tokio::spawn(crate::http_server::serve(
            listener, app, admission, limits, http_stop2,
        ));
        stop.cancelled().await;
        gw.ready.store(false, Ordering::Relaxed);
        http_stop.cancel();
        // Every session sees this and closes with a Goodbye{shutdown}.
        gw.shutdown.cancel();
        gw.tracker.close();
        if tokio::time::timeout(gw.config.drain_timeout(), gw.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = gw.connection_count(),
                "drain deadline passed; closing the rest"
            );
        }
        match tokio::time::timeout(Duration::from_secs(5), server).await {
            Ok(Ok(r)) => r.map_err(GatewayError::Serve),
            _ => Ok(()),
        }
    }
}
