//! argon2id hashing (crate defaults) on a fixed pool of `concurrency`
//! threads, so a login storm cannot starve message traffic.
//!
//! The queue in front of the pool is bounded: at most `queue` hashes wait
//! (besides those running), and one more is refused at once with
//! `ResourceExhausted` (HTTP 429 with Retry-After). Without the bound a
//! bystander's login waited behind every hash an attacker had queued: 200
//! concurrent logins put it at 3-4 s, growing with the attacker's
//! concurrency. With it the wait is at most `queue / concurrency + 1`
//! hashes (about a quarter of a second with the defaults), and excess
//! load is turned away instead of queued.
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
use tokio::sync::{Semaphore, oneshot};

pub(crate) const MIN_PASSWORD: usize = 8;
pub(crate) const MAX_PASSWORD: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub(crate) struct Hasher {
    /// Jobs for the hashing threads (they end when the last sender is dropped).
    jobs: mpsc::Sender<Job>,
    /// One permit per hash running or waiting; a hash that finds none is
    /// refused rather than queued.
    admission: Arc<Semaphore>,
    /// Verified when the user does not exist, so that a login's timing does
    /// not tell whether a username exists.
    dummy_hash: Arc<String>,
}

impl Hasher {
    pub(crate) fn new(concurrency: usize, queue: usize) -> ServiceResult<Self> {
        let concurrency = concurrency.max(1);
        let dummy = hash_blocking("parley-timing-equaliser")?;
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..concurrency {
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
            admission: Arc::new(Semaphore::new(concurrency + queue)),
            dummy_hash: Arc::new(dummy),
        })
    }

    /// Runs `f` on a hashing thread (queued behind the others), or refuses
    /// it when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> ServiceResult<T> + Send + 'static,
    ) -> ServiceResult<T> {
        let Ok(permit) = self.admission.clone().try_acquire_owned() else {
            metrics::counter!("parley_auth_hashes_refused_total").increment(1);
            return Err(ServiceError::ResourceExhausted(
                "too many sign-ins at once; retry in a second".into(),
            ));
        };
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
            drop(permit);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_beyond_the_queue_are_refused_not_queued() {
        let hasher = Hasher::new(1, 2).unwrap();
        let jobs: Vec<_> = (0..12)
            .map(|i| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash(format!("password-{i}")).await })
            })
            .collect();
        let mut done = 0;
        let mut refused = 0;
        for j in jobs {
            match j.await.unwrap() {
                Ok(_) => done += 1,
                Err(ServiceError::ResourceExhausted(_)) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // One running and two waiting at most: the other nine are refused
        // (at least; some may find room as earlier ones finish).
        assert!(done >= 3, "{done}");
        assert!(refused >= 1, "{refused}");
        assert_eq!(done + refused, 12);
        // Room again once the storm has passed.
        hasher.hash("afterwards".into()).await.unwrap();
    }
}
