//! A token bucket per key refilled over the hour (governor): so many a
//! hour, with bursts. Memory stays bounded by the keys used recently (full
//! buckets are swept now and then). Kept per gateway process.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Checks between sweeps of keys whose bucket is full again.
const SWEEP_EVERY: u64 = 1024;

pub(crate) struct HourlyLimit<K: Hash + Eq + Clone> {
    buckets: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
    checks: AtomicU64,
    pub(crate) per_hour: u32,
}

impl<K: Hash + Eq + Clone> HourlyLimit<K> {
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

    /// Takes one from `key`'s bucket, or says how long until there is one.
    pub(crate) fn take(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.buckets.retain_recent();
            self.buckets.shrink_to_fit();
        }
        self.buckets
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}
