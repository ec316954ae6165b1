//! How many conversations one user may start: a token bucket per user
//! (`gateway.conversations_per_hour`, bursts of `conversations_burst`), so
//! one account cannot create hundreds of groups of strangers in a second.
//! Kept per gateway process: a user connected to k gateways gets k times
//! the rate, which still bounds a flood to a few per minute per gateway.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use parley_core::{ServiceError, ServiceResult};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Checks between sweeps of users whose bucket is full again (the map of
/// users stays bounded by those who created something recently).
const SWEEP_EVERY: u64 = 1024;

pub(crate) struct CreationLimit {
    buckets: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
    per_hour: u32,
}

impl CreationLimit {
    pub(crate) fn new(per_hour: u32, burst: u32) -> Self {
        let per_hour = per_hour.max(1);
        let period = Duration::from_secs(3600) / per_hour;
        let quota = Quota::with_period(period)
            .expect("a positive period")
            .allow_burst(NonZeroU32::new(burst.max(1)).expect("max(1)"));
        Self {
            buckets: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            per_hour,
        }
    }

    /// Takes one creation from `user`'s bucket, or says when to come back.
    pub(crate) fn check(&self, user: &str) -> ServiceResult<()> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.buckets.retain_recent();
            self.buckets.shrink_to_fit();
        }
        self.buckets
            .check_key(&user.to_string())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now()).as_secs().max(1);
                ServiceError::ResourceExhausted(format!(
                    "at most {} new conversations an hour: try again in {wait} s",
                    self.per_hour
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_the_burst_then_waits_and_others_are_not_affected() {
        let limit = CreationLimit::new(60, 3);
        for _ in 0..3 {
            limit.check("mallory").unwrap();
        }
        let err = limit.check("mallory").unwrap_err();
        assert!(
            matches!(err, ServiceError::ResourceExhausted(ref m) if m.contains("try again in"))
        );
        assert_eq!(err.protocol_code(), "rate_limited");
        limit.check("alice").unwrap();
    }
}
