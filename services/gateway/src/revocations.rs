//! Sessions whose access tokens this gateway refuses: an access token is
//! checked locally (signature, expiry), so a revoked session's token would
//! otherwise open sockets until it expires. Each revocation arrives twice:
//! at once over the bus (auth broadcasts it to every gateway), and from
//! auth's revocation log, read at start and every `revocation_poll_secs`,
//! which covers a bus message this gateway missed (the bus may drop).
//! An entry is kept as long as a token issued before it could still be
//! presented, then forgotten.

use crate::Gateway;
use parking_lot::Mutex;
use parley_core::services::{AuthApi, AuthClient};
use parley_ports::Push;
use parley_proto::v1 as pb;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

pub(crate) struct Revocations {
    /// Session id -> when it may be forgotten.
    until: Mutex<HashMap<String, Instant>>,
    /// An access token's longest life, with the clock leeway.
    keep: Duration,
}

impl Revocations {
    pub(crate) fn new(keep: Duration) -> Self {
        Self {
            until: Default::default(),
            keep,
        }
    }

    /// Notes a revoked session; true if it was not known yet.
    pub(crate) fn add(&self, session_id: &str) -> bool {
        let forget_at = Instant::now() + self.keep;
        let mut until = self.until.lock();
        if until.len() % 1024 == 1023 {
            let now = Instant::now();
            until.retain(|_, t| *t > now);
        }
        until.insert(session_id.to_string(), forget_at).is_none()
    }

    pub(crate) fn contains(&self, session_id: &str) -> bool {
        self.until.lock().contains_key(session_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.until.lock().len()
    }

    fn prune(&self) {
        let now = Instant::now();
        self.until.lock().retain(|_, t| *t > now);
    }
}

/// Reads auth's revocation log from `since_ms` until it is up to date;
/// returns the time to ask from next.
pub(crate) async fn catch_up(
    auth: &AuthClient,
    revoked: &Revocations,
    mut since_ms: i64,
    mut on_new: impl FnMut(&pb::RevokedSession),
) -> Result<i64, parley_core::ServiceError> {
    loop {
        let page = auth.revoked_sessions(pb::RevokedSince { since_ms }).await?;
        for s in &page.sessions {
            if revoked.add(&s.session_id) {
                on_new(s);
            }
        }
        if !page.truncated {
            // Overlap by a few seconds: a revocation stored just before
            // `now_ms` but committed after the read is seen next time.
            return Ok(page.now_ms - 5_000);
        }
        since_ms = page
            .sessions
            .last()
            .map_or(page.now_ms, |s| s.revoked_at_ms);
    }
}

/// Keeps the gateway's list up to date from auth's log until the gateway
/// drains or is dropped; sessions learnt here also have their sockets
/// closed (their bus message may have been the one that was lost).
pub(crate) fn spawn_poller(gw: Weak<Gateway>, mut since_ms: i64, every: Duration) {
    tokio::spawn(async move {
        loop {
            let shutdown = match gw.upgrade() {
                Some(g) => g.shutdown.clone(),
                None => return,
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let Some(g) = gw.upgrade() else { return };
            let registry = &g.registry;
            let close = |s: &pb::RevokedSession| {
                registry.close_session(&s.user_id, &s.session_id);
            };
            match catch_up(&g.auth, &g.revoked, since_ms, close).await {
                Ok(next) => since_ms = next,
                Err(e) => tracing::warn!(error = %e, "could not read revoked sessions"),
            }
            g.revoked.prune();
            metrics::gauge!("parley_gateway_revoked_sessions").set(g.revoked.len() as f64);
        }
    });
}

/// The bus's half: a revocation broadcast reaches every gateway's sink.
pub(crate) fn note_push(revoked: &Arc<Revocations>, push: &Push) {
    if let Push::CloseSession { session_id } = push {
        revoked.add(session_id);
    }
}
