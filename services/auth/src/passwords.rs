//! argon2id hashing (crate defaults) on a fixed pool of `concurrency`
//! threads, so a login storm cannot starve message traffic.
//!
//! A fixed pool, not tokio's blocking threads: each hash allocates ~19 MiB.
//! On ever-changing blocking threads the allocator spread those blocks over
//! many per-thread arenas and kept them all (measured: RSS 24 -> 500 MB while
//! 2,000 users registered and logged in, with 2 hashes at a time). A thread
//! that hashes again reuses its own block.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use parley_core::{ServiceError, ServiceResult};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;

pub(crate) const MIN_PASSWORD: usize = 8;
pub(crate) const MAX_PASSWORD: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub(crate) struct Hasher {
    /// Jobs for the hashing threads (they end when the last sender is dropped).
    jobs: mpsc::Sender<Job>,
    /// Verified when the user does not exist, so that a login's timing does
    /// not tell whether a username exists.
    dummy_hash: Arc<String>,
}

impl Hasher {
    pub(crate) fn new(concurrency: usize) -> ServiceResult<Self> {
        let dummy = hash_blocking("parley-timing-equaliser")?;
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..concurrency.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("parley-argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
        }
        Ok(Self {
            jobs: tx,
            dummy_hash: Arc::new(dummy),
        })
    }

    /// Runs `f` on a hashing thread (queued behind the others).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> ServiceResult<T> + Send + 'static,
    ) -> ServiceResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .send(job)
            .map_err(|_| ServiceError::Unavailable("shutting down".into()))?;
        rx.await
            .map_err(|_| ServiceError::Unavailable("shutting down".into()))?
    }

    pub(crate) async fn hash(&self, password: String) -> ServiceResult<String> {
        self.run(move || hash_blocking(&password)).await
    }

    /// Checks `password` against `hash` (or against a dummy when `None`).
    pub(crate) async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> ServiceResult<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| (*self.dummy_hash).clone());
        let ok = self
            .run(move || {
                let parsed =
                    PasswordHash::new(&hash).map_err(|e| ServiceError::Internal(e.to_string()))?;
                Ok(Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
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
