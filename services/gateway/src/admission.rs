//! Which TCP connections the gateway takes: at most `max_connections` in
//! all (kept below the process's file limit, so that accepting never
//! fails with EMFILE and takes a bystander's login with it), and at most
//! `max_unauthenticated_per_address` from one address that have not
//! authenticated yet. A WebSocket that authenticates stops counting
//! against its address (a company behind one NAT address may hold
//! thousands of those); an HTTP connection never authenticates and is kept
//! short by the header and request timeouts instead.

use crate::per_address::{PerAddress, Place};
use parking_lot::Mutex;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The gateway holds `max_connections`.
    Full,
    /// This address holds its share of unauthenticated connections.
    Address,
}

pub(crate) struct Admission {
    total: Arc<Semaphore>,
    max: usize,
    unauthenticated: Arc<PerAddress>,
}

/// What an accepted connection holds until it closes; shared by the
/// connection task and, after an upgrade, the WebSocket session.
pub(crate) struct Admitted {
    _slot: OwnedSemaphorePermit,
    unauthenticated: Mutex<Option<Place>>,
}

impl Admission {
    pub(crate) fn new(max_connections: usize, per_address: usize) -> Arc<Self> {
        let max = max_connections.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Self {
            total: Arc::new(Semaphore::new(max)),
            max,
            unauthenticated: PerAddress::new(per_address),
        })
    }

    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Arc<Admitted>, Refused> {
        let slot = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Full)?;
        let place = self.unauthenticated.take(ip).ok_or(Refused::Address)?;
        Ok(Arc::new(Admitted {
            _slot: slot,
            unauthenticated: Mutex::new(Some(place)),
        }))
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.max - self.total.available_permits()
    }
}

impl Admitted {
    /// The connection authenticated: it no longer counts against its
    /// address (it still holds its place in the total).
    pub(crate) fn authenticated(&self) {
        self.unauthenticated.lock().take();
    }
}

/// The connection cap when none is configured: nine tenths of the file
/// limit, leaving the rest for stores, logs and outgoing connections.
pub(crate) fn default_max_connections() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(65_536);
    usize::try_from(limit / 10 * 9)
        .unwrap_or(usize::MAX)
        .max(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn one_address_cannot_take_every_unauthenticated_slot() {
        let adm = Admission::new(100, 2);
        let a1 = adm.admit(A).unwrap();
        let _a2 = adm.admit(A).unwrap();
        assert_eq!(adm.admit(A).err(), Some(Refused::Address));
        let _b = adm.admit(B).expect("another address is unaffected");
        // An authenticated connection frees its address's slot...
        a1.authenticated();
        let _a3 = adm.admit(A).unwrap();
        // ...but still counts in the total until it closes.
        assert_eq!(adm.open(), 4);
        drop(a1);
        assert_eq!(adm.open(), 3);
    }

    #[test]
    fn the_total_is_capped() {
        let adm = Admission::new(2, 10);
        let _x = adm.admit(A).unwrap();
        let y = adm.admit(B).unwrap();
        assert_eq!(adm.admit(B).err(), Some(Refused::Full));
        drop(y);
        adm.admit(B).unwrap();
    }

    #[test]
    fn the_default_cap_stays_under_the_file_limit() {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        assert!((default_max_connections() as u64) < limit.max(65));
    }
}
