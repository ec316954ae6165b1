//! How many conversations one user may start: a token bucket per user
//! (`gateway.conversations_per_hour`, bursts of `conversations_burst`), so
//! one account cannot create hundreds of groups of strangers in a second.
//! Kept per gateway process: a user connected to k gateways gets k times
//! the rate, which still bounds a flood to a few per minute per gateway.

use crate::hourly_limit::HourlyLimit;
use parley_core::{ServiceError, ServiceResult};

pub(crate) struct CreationLimit(HourlyLimit<String>);

impl CreationLimit {
    pub(crate) fn new(per_hour: u32, burst: u32) -> Self {
        Self(HourlyLimit::new(per_hour, burst))
    }

    /// Takes one creation from `user`'s bucket, or says when to come back.
    pub(crate) fn check(&self, user: &str) -> ServiceResult<()> {
        self.0.take(&user.to_string()).map_err(|wait| {
            ServiceError::ResourceExhausted(format!(
                "at most {} new conversations an hour: try again in {} s",
                self.0.per_hour,
                wait.as_secs().max(1)
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
