//! argon2id hashing (crate defaults) on blocking threads, with bounded
//! concurrency so a login storm cannot starve message traffic.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use parley_core::{ServiceError, ServiceResult};
use std::sync::Arc;
use tokio::sync::Semaphore;

pub(crate) const MIN_PASSWORD: usize = 8;
pub(crate) const MAX_PASSWORD: usize = 1024;

#[derive(Clone)]
pub(crate) struct Hasher {
    permits: Arc<Semaphore>,
    /// Verified when the user does not exist, so that a login's timing does
    /// not tell whether a username exists.
    dummy_hash: Arc<String>,
}

impl Hasher {
    pub(crate) fn new(concurrency: usize) -> ServiceResult<Self> {
        let dummy = hash_blocking("parley-timing-equaliser")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            dummy_hash: Arc::new(dummy),
        })
    }

    pub(crate) async fn hash(&self, password: String) -> ServiceResult<String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ServiceError::Unavailable("shutting down".into()))?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// Checks `password` against `hash` (or against a dummy when `None`).
    pub(crate) async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> ServiceResult<bool> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ServiceError::Unavailable("shutting down".into()))?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| (*self.dummy_hash).clone());
        let ok = tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| ServiceError::Internal(e.to_string()))?;
            Ok::<_, ServiceError>(
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
        Ok(ok && known)
    }
}

fn hash_blocking(password: &str) -> ServiceResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}
