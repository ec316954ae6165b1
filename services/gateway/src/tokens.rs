//! Local access-token checks against the JWKS of the auth service, with a
//! bounded refresh when a token names a key not seen yet (key rotation),
//! and the list of revoked sessions (`revocations.rs`).

use crate::revocations::Revocations;
use parley_core::services::{AuthApi, AuthClient};
use parley_jwt::{Claims, TokenError, Verifier};
use parley_proto::v1 as pb;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// At most one JWKS refetch per this interval, so bogus kids cannot make
/// every connection attempt call auth.
const REFRESH_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct TokenCheck {
    verifier: Verifier,
    auth: AuthClient,
    last_refresh: Mutex<Option<Instant>>,
    /// Sessions ended before their access tokens expire.
    revoked: Arc<Revocations>,
}

impl TokenCheck {
    pub(crate) async fn new(
        auth: AuthClient,
        issuer: &str,
        audience: &str,
        leeway_secs: u64,
        max_lifetime_secs: u64,
        revoked: Arc<Revocations>,
    ) -> Result<Self, String> {
        let t = Self {
            verifier: Verifier::new(issuer, audience, leeway_secs)
                .with_max_lifetime(max_lifetime_secs),
            auth,
            last_refresh: Mutex::new(None),
            revoked,
        };
        t.refresh().await?;
        Ok(t)
    }

    async fn refresh(&self) -> Result<(), String> {
        let mut last = self.last_refresh.lock().await;
        if last.is_some_and(|t| t.elapsed() < REFRESH_EVERY) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let jwks = self
            .auth
            .jwks(pb::Empty {})
            .await
            .map_err(|e| e.to_string())?;
        self.verifier
            .load_jwks(&jwks.json)
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// A valid token of a session that has not been revoked.
    pub(crate) async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.verify_signed(token).await?;
        if self.revoked.contains(&claims.sid) {
            return Err(TokenError::Invalid("the session was ended".into()));
        }
        Ok(claims)
    }

    async fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        match self.verifier.verify(token) {
            Err(TokenError::UnknownKey(kid)) => {
                if let Err(e) = self.refresh().await {
                    tracing::warn!(error = %e, "JWKS refresh failed");
                }
                self.verifier
                    .verify(token)
                    .map_err(|_| TokenError::UnknownKey(kid))
            }
            other => other,
        }
    }
}
