//! Failed logins slow down whoever keeps failing, with exponential backoff,
//! in three buckets checked together:
//!
//! - one account from one address: 5 free failures, then 1 s, 2 s, 4 s...
//!   up to 15 minutes (password guessing from one place);
//! - one address, any account: 50 free, then the same up to 15 minutes
//!   (credential stuffing across accounts);
//! - one account, any address: 20 free, then the same but **at most a
//!   minute**, so an attacker who fails on purpose from many addresses can
//!   slow a victim's logins, never lock them out.
//!
//! While a bucket waits, a login is refused with 429 and Retry-After before
//! the password is checked (no guess is tried, no hash is spent), with the
//! same message whether or not the account exists. A success clears its
//! account's buckets (not its address's: one's own account must not wash
//! an address clean). Failures older than an hour are forgotten. Memory is
//! bounded (an LRU of buckets). State is per gateway: with several
//! gateways an attacker spread over them gets as many budgets.

use parley_core::time::now_ms;
use quick_cache::sync::Cache;
use std::net::IpAddr;
use std::time::Duration;

/// Buckets remembered (about 100 bytes each).
const BUCKETS: usize = 100_000;
/// Failures this old no longer count.
const FORGET_MS: i64 = 3_600_000;

#[derive(Clone, Copy)]
struct Rule {
    free: u32,
    cap_ms: i64,
}

const PAIR: Rule = Rule {
    free: 5,
    cap_ms: 15 * 60_000,
};
const ADDRESS: Rule = Rule {
    free: 50,
    cap_ms: 15 * 60_000,
};
const ACCOUNT: Rule = Rule {
    free: 20,
    cap_ms: 60_000,
};

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Address(IpAddr),
    Account(String),
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last_ms: i64,
    until_ms: i64,
}

pub(crate) struct LoginThrottle {
    buckets: Cache<Key, Failures>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            buckets: Cache::new(BUCKETS),
        }
    }
}

fn account(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginThrottle {
    fn keys(ip: IpAddr, username: &str) -> [(Key, Rule); 3] {
        let name = account(username);
        [
            (Key::Pair(name.clone(), ip), PAIR),
            (Key::Address(ip), ADDRESS),
            (Key::Account(name), ACCOUNT),
        ]
    }

    /// How long this login must wait, if it must.
    pub(crate) fn wait(&self, ip: IpAddr, username: &str) -> Option<Duration> {
        let now = now_ms();
        Self::keys(ip, username)
            .iter()
            .filter_map(|(k, _)| self.buckets.get(k))
            .map(|f| f.until_ms - now)
            .filter(|ms| *ms > 0)
            .max()
            .map(|ms| Duration::from_millis(ms as u64))
    }

    pub(crate) fn failed(&self, ip: IpAddr, username: &str) {
        let now = now_ms();
        for (key, rule) in Self::keys(ip, username) {
            let mut f = match self.buckets.get(&key) {
                Some(f) if now - f.last_ms < FORGET_MS => f,
                _ => Failures {
                    count: 0,
                    last_ms: now,
                    until_ms: 0,
                },
            };
            f.count += 1;
            f.last_ms = now;
            if f.count > rule.free {
                let doublings = (f.count - rule.free - 1).min(30);
                let backoff = (1_000i64 << doublings).min(rule.cap_ms);
                f.until_ms = now + backoff;
            }
            self.buckets.insert(key, f);
        }
    }

    pub(crate) fn succeeded(&self, ip: IpAddr, username: &str) {
        let name = account(username);
        self.buckets.remove(&Key::Pair(name.clone(), ip));
        self.buckets.remove(&Key::Account(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn one_place_guessing_backs_off_exponentially_to_the_cap() {
        let t = LoginThrottle::default();
        for _ in 0..5 {
            assert!(t.wait(ip(1), "Ann").is_none());
            t.failed(ip(1), "ann");
        }
        assert!(t.wait(ip(1), "ann").is_none(), "five are free");
        t.failed(ip(1), "ann");
        let first = t.wait(ip(1), "ANN ").unwrap();
        assert!(first <= Duration::from_secs(1) && first > Duration::ZERO);
        t.failed(ip(1), "ann");
        assert!(t.wait(ip(1), "ann").unwrap() > Duration::from_millis(1_500));
        for _ in 0..40 {
            t.failed(ip(1), "ann");
        }
        let capped = t.wait(ip(1), "ann").unwrap();
        assert!(capped <= Duration::from_secs(15 * 60) && capped > Duration::from_secs(14 * 60));
        // Another address is not held by this one's pair bucket, only by
        // the account's, which never waits more than a minute.
        let other = t.wait(ip(2), "ann").unwrap();
        assert!(other <= Duration::from_secs(60), "{other:?}");
        // Another account from the first address: not yet (50 free).
        assert!(t.wait(ip(1), "bob").is_none());
    }

    #[test]
    fn many_addresses_cannot_lock_an_account_for_more_than_a_minute() {
        let t = LoginThrottle::default();
        for i in 0..200u8 {
            t.failed(ip(i), "victim");
        }
        let wait = t.wait(ip(250), "victim").unwrap();
        assert!(wait <= Duration::from_secs(60), "{wait:?}");
        // A success clears the account (the victim got in after waiting).
        t.succeeded(ip(250), "victim");
        assert!(t.wait(ip(250), "victim").is_none());
    }

    #[test]
    fn stuffing_from_one_address_is_slowed_across_accounts() {
        let t = LoginThrottle::default();
        for i in 0..51 {
            t.failed(ip(7), &format!("user{i}"));
        }
        assert!(t.wait(ip(7), "someone-new").is_some());
        // Succeeding with one's own account does not wash the address.
        t.succeeded(ip(7), "mine");
        assert!(t.wait(ip(7), "someone-new").is_some());
    }
}
