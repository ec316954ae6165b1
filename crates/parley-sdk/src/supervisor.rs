//! The connection supervisor: keeps one connection up until the client is
//! stopped or its session revoked. Refreshes tokens before they expire,
//! reconnects with full-jitter exponential backoff, moves to the next
//! gateway when one drains or cannot be reached, and starts a catch-up
//! after every (re)connect.

use crate::SdkError;
use crate::client::{Client, ClientEvent, now_ms, ws_url};
use crate::conn::{Conn, ConnectError, PushHandler};
use crate::http;
use rand::Rng;
use std::time::Duration;

/// Close codes the client reacts to (docs/protocol.md).
const CLOSE_UNAUTHENTICATED: u16 = 4401;
const CLOSE_REVOKED: u16 = 4403;
const CLOSE_SHUTDOWN: u16 = 1012;
/// Refresh the access token when it expires sooner than this.
const REFRESH_MARGIN_MS: i64 = 60_000;

impl Client {
    /// Keeps a connection up until stopped or revoked.
    pub(crate) async fn manage(self, pushes: PushHandler) {
        let mut attempt: u32 = 0;
        let mut must_refresh = false;
        while !self.inner.stop.is_cancelled() {
            if must_refresh
                || self.inner.tokens.lock().access_expires_at_ms - now_ms() < REFRESH_MARGIN_MS
            {
                match self.refresh_tokens().await {
                    Ok(()) => must_refresh = false,
                    Err(SdkError::Server { .. }) => return self.revoked(),
                    Err(_) => {
                        self.backoff(&mut attempt).await;
                        continue;
                    }
                }
            }
            let token = self.inner.tokens.lock().access_token.clone();
            let cfg = &self.inner.config;
            let url = ws_url(self.current_url());
            match Conn::open(
                &url,
                &token,
                cfg.encoding,
                pushes.clone(),
                cfg.request_timeout,
            )
            .await
            {
                Ok((conn, _)) => {
                    attempt = 0;
                    self.inner.conn.send_replace(Some(conn.clone()));
                    self.emit(ClientEvent::Connected);
                    let catch_up = tokio::spawn(self.clone().catch_up());
                    tokio::select! {
                        _ = conn.closed.cancelled() => {}
                        _ = self.inner.stop.cancelled() => conn.shutdown(),
                    }
                    catch_up.abort();
                    self.inner.conn.send_replace(None);
                    let code = conn.close_code();
                    self.emit(ClientEvent::Disconnected { close_code: code });
                    match code {
                        Some(CLOSE_REVOKED) => return self.revoked(),
                        Some(CLOSE_UNAUTHENTICATED) => must_refresh = true,
                        // Draining, or gone without a word: try another gateway.
                        Some(CLOSE_SHUTDOWN) | None => self.next_gateway(),
                        _ => {}
                    }
                }
                Err(ConnectError::Auth(code)) => {
                    tracing::debug!(%code, "authentication refused; refreshing tokens");
                    must_refresh = true;
                }
                Err(ConnectError::Io(e)) => {
                    tracing::debug!(error = %e, %url, "connect failed");
                    self.next_gateway();
                }
            }
            self.backoff(&mut attempt).await;
        }
    }

    pub(crate) fn current_url(&self) -> &str {
        self.inner.config.url(
            self.inner
                .gateway
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    fn next_gateway(&self) {
        self.inner
            .gateway
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn revoked(&self) {
        self.inner.stop.cancel();
        self.emit(ClientEvent::Revoked);
    }

    /// Full-jitter exponential backoff.
    async fn backoff(&self, attempt: &mut u32) {
        let cfg = &self.inner.config;
        let cap = cfg
            .backoff_min
            .saturating_mul(1u32 << (*attempt).min(16))
            .min(cfg.backoff_max);
        let wait = rand::rng()
            .random_range(cfg.backoff_min.as_millis() as u64 / 2..=cap.as_millis().max(1) as u64);
        *attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = self.inner.stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }

    async fn refresh_tokens(&self) -> Result<(), SdkError> {
        let refresh = self.inner.tokens.lock().refresh_token.clone();
        // One refresh at a time (a refresh token is single use): if another
        // refreshed while this one waited, its tokens are the fresh ones.
        let _one = self.inner.refreshing.lock().await;
        if self.inner.tokens.lock().refresh_token != refresh {
            return Ok(());
        }
        let fresh = match http::refresh(&self.inner.http, self.current_url(), &refresh).await {
            Err(SdkError::Http(e)) => {
                self.next_gateway();
                return Err(SdkError::Http(e));
            }
            other => other?,
        };
        *self.inner.tokens.lock() = fresh;
        Ok(())
    }
}
