//! A count per client address with a cap, and the place each holder takes
//! (given back when dropped). Used for connections that have not signed in
//! (`admission.rs`) and for sign-ins in progress (`http.rs`).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

pub(crate) struct PerAddress {
    counts: Mutex<HashMap<IpAddr, usize>>,
    cap: usize,
}

/// One place of one address; dropping it gives the place back.
pub(crate) struct Place {
    ip: IpAddr,
    of: Arc<PerAddress>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.of.counts.lock();
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

impl PerAddress {
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            counts: Mutex::new(HashMap::new()),
            cap: cap.max(1),
        })
    }

    /// A place for `ip`, or None when it holds its cap.
    pub(crate) fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Place> {
        let mut counts = self.counts.lock();
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Place {
            ip,
            of: self.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_holds_at_most_its_cap() {
        let per = PerAddress::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let one = per.take(a).unwrap();
        let _two = per.take(a).unwrap();
        assert!(per.take(a).is_none());
        assert!(per.take(b).is_some());
        drop(one);
        assert!(per.take(a).is_some());
        assert_eq!(per.counts.lock().len(), 1, "empty entries are removed");
    }
}
