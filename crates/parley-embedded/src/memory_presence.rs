//! In-memory presence with per-connection TTLs (tokio time, so tests can
//! pause and advance it).

use async_trait::async_trait;
use parking_lot::Mutex;
use parley_core::time::now_ms;
use parley_ports::{ConnRef, PresenceStore, StoreResult};
use parley_proto::v1 as pb;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// (gateway, connection id)
type ConnKey = (String, String);

fn key(conn: ConnRef<'_>) -> ConnKey {
    (conn.gateway.to_string(), conn.id.to_string())
}

#[derive(Default)]
struct UserState {
    /// connection -> expiry
    conns: HashMap<ConnKey, Instant>,
    last_seen_ms: i64,
}

impl UserState {
    /// Drops expired connections; records last-seen if that made the user offline.
    fn prune(&mut self, now: Instant) {
        let before = self.conns.len();
        self.conns.retain(|_, exp| *exp > now);
        if before > 0 && self.conns.is_empty() {
            self.last_seen_ms = now_ms();
        }
    }
}

/// In-memory presence store (embedded mode).
#[derive(Default)]
pub struct MemoryPresence {
    users: Mutex<HashMap<String, UserState>>,
}

impl std::fmt::Debug for MemoryPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryPresence")
    }
}

impl MemoryPresence {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PresenceStore for MemoryPresence {
    async fn attach(&self, user: &str, conn: ConnRef<'_>, ttl: Duration) -> StoreResult<bool> {
        let now = Instant::now();
        let mut users = self.users.lock();
        let st = users.entry(user.to_string()).or_default();
        st.prune(now);
        let was_offline = st.conns.is_empty();
        st.conns.insert(key(conn), now + ttl);
        Ok(was_offline)
    }

    async fn heartbeat(&self, user: &str, conn: ConnRef<'_>, ttl: Duration) -> StoreResult<()> {
        let now = Instant::now();
        let mut users = self.users.lock();
        let st = users.entry(user.to_string()).or_default();
        st.conns.insert(key(conn), now + ttl);
        Ok(())
    }

    async fn detach(&self, user: &str, conn: ConnRef<'_>) -> StoreResult<bool> {
        let now = Instant::now();
        let mut users = self.users.lock();
        let Some(st) = users.get_mut(user) else {
            return Ok(false);
        };
        st.prune(now);
        let removed = st.conns.remove(&key(conn)).is_some();
        if removed && st.conns.is_empty() {
            st.last_seen_ms = now_ms();
            return Ok(true);
        }
        Ok(false)
    }

    async fn query(&self, users: &[String]) -> StoreResult<Vec<pb::PresenceInfo>> {
        let now = Instant::now();
        let mut map = self.users.lock();
        Ok(users
            .iter()
            .map(|u| match map.get_mut(u) {
                Some(st) => {
                    st.prune(now);
                    let online = !st.conns.is_empty();
                    pb::PresenceInfo {
                        user_id: u.clone(),
                        online,
                        last_seen_ms: if online { now_ms() } else { st.last_seen_ms },
                    }
                }
                None => pb::PresenceInfo {
                    user_id: u.clone(),
                    online: false,
                    last_seen_ms: 0,
                },
            })
            .collect())
    }

    async fn routes(&self, users: &[String]) -> StoreResult<Vec<pb::UserRoute>> {
        let now = Instant::now();
        let mut map = self.users.lock();
        Ok(users
            .iter()
            .filter_map(|u| {
                let st = map.get_mut(u)?;
                st.prune(now);
                if st.conns.is_empty() {
                    return None;
                }
                let mut gateway_ids: Vec<String> = Vec::with_capacity(1);
                for (gateway, _) in st.conns.keys() {
                    if gateway.is_empty() {
                        // Somewhere unknown: deliver by user, reaching all.
                        gateway_ids.clear();
                        break;
                    }
                    if !gateway_ids.contains(gateway) {
                        gateway_ids.push(gateway.clone());
                    }
                }
                Some(pb::UserRoute {
                    user_id: u.clone(),
                    gateway_ids,
                })
            })
            .collect())
    }
}
