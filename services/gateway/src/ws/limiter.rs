//! The per-connection frame rate limit: a token bucket, and the strikes
//! after which a client that keeps flooding is cut off.

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

type Bucket = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    DefaultClock,
    governor::middleware::NoOpMiddleware,
>;

/// What to do with the frame just received.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    /// Refuse it; the client may retry after this long.
    Refuse(Duration),
    /// Refused too many times in a row: close the connection.
    Cut,
}

pub(crate) struct FrameLimiter {
    bucket: Bucket,
    clock: DefaultClock,
    strikes: u32,
    max_strikes: u32,
}

impl FrameLimiter {
    /// `per_sec` frames a second on average, bursts of `burst`; a client is
    /// cut after `max(burst, 10)` refusals in a row.
    pub(crate) fn new(per_sec: u32, burst: u32) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(per_sec.max(1)).expect("max(1)"))
            .allow_burst(NonZeroU32::new(burst.max(1)).expect("max(1)"));
        Self {
            bucket: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
            strikes: 0,
            max_strikes: burst.max(10),
        }
    }

    pub(crate) fn check(&mut self) -> Verdict {
        match self.bucket.check() {
            Ok(()) => {
                self.strikes = 0;
                Verdict::Allow
            }
            Err(not_until) => {
                self.strikes += 1;
                if self.strikes > self.max_strikes {
                    Verdict::Cut
                } else {
                    let wait = not_until.wait_time_from(self.clock.now());
                    Verdict::Refuse(wait.max(Duration::from_millis(1)))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_refusals_then_the_cut() {
        let mut l = FrameLimiter::new(1, 3);
        for _ in 0..3 {
            assert_eq!(l.check(), Verdict::Allow);
        }
        for _ in 0..10 {
            assert!(matches!(l.check(), Verdict::Refuse(w) if w > Duration::ZERO));
        }
        assert_eq!(l.check(), Verdict::Cut);
    }
}
