//! Presence in Redis.
//!
//! Per user, a sorted set `parley:presence:<user>` of connections scored
//! by their expiry (ms); the key itself expires with its last connection.
//! A member is `<gateway>.<connection>` (ids never contain a `.`), or the
//! bare connection id when the gateway did not name itself (older
//! gateways): routes then say "unknown".
//! `parley:lastseen:<user>` holds when the user was last known alive.
//! A user is online while a connection's expiry is in the future. Lookups
//! of many users are one pipelined round trip. Nothing here is durable, by
//! design: a Redis restarted empty is refilled by the next heartbeats.

use async_trait::async_trait;
use parley_core::ids::validate_id;
use parley_core::time::now_ms;
use parley_ports::{ConnRef, PresenceStore, StoreError, StoreResult};
use parley_proto::v1 as pb;
use redis::aio::ConnectionManager;
use std::time::Duration;

/// last-seen is kept this long after the user was last alive.
const LAST_SEEN_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

const ATTACH: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
if before == 0 then return 1 end
return 0
";

const DETACH: &str = r"
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local left = redis.call('ZCARD', KEYS[1])
if removed == 1 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3]) end
if removed == 1 and left == 0 then return 1 end
return 0
";

fn be(e: redis::RedisError) -> StoreError {
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

fn keys(user: &str) -> StoreResult<(String, String)> {
    validate_id("user_id", user).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok((
        format!("parley:presence:{user}"),
        format!("parley:lastseen:{user}"),
    ))
}

/// The sorted-set member of a connection.
fn member(conn: ConnRef<'_>) -> StoreResult<String> {
    let check = |what, id| validate_id(what, id).map_err(|e| StoreError::Backend(e.to_string()));
    check("connection_id", conn.id)?;
    if conn.gateway.is_empty() {
        return Ok(conn.id.to_string());
    }
    check("gateway_id", conn.gateway)?;
    Ok(format!("{}.{}", conn.gateway, conn.id))
}

/// The gateway a member names (`None`: unknown).
fn gateway_of(member: &str) -> Option<&str> {
    member.split_once('.').map(|(g, _)| g)
}

/// The Redis presence store (clones share one auto-reconnecting connection).
#[derive(Clone)]
pub struct RedisPresence {
    conn: ConnectionManager,
    attach: redis::Script,
    detach: redis::Script,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisPresence")
    }
}

impl RedisPresence {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let client = redis::Client::open(url).map_err(be)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(be)?;
        Ok(Self {
            conn,
            attach: redis::Script::new(ATTACH),
            detach: redis::Script::new(DETACH),
        })
    }
}

#[async_trait]
impl PresenceStore for RedisPresence {
    async fn attach(&self, user: &str, conn: ConnRef<'_>, ttl: Duration) -> StoreResult<bool> {
        let (set, seen) = keys(user)?;
        let conn = member(conn)?;
        let now = now_ms();
        let ttl_ms = ttl.as_millis() as i64;
        let became_online: i64 = self
            .attach
            .key(&set)
            .key(&seen)
            .arg(now)
            .arg(now + ttl_ms)
            .arg(conn)
            .arg(ttl_ms)
            .arg(LAST_SEEN_TTL_MS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(be)?;
        Ok(became_online == 1)
    }

    async fn heartbeat(&self, user: &str, conn: ConnRef<'_>, ttl: Duration) -> StoreResult<()> {
        let (set, seen) = keys(user)?;
        let conn = member(conn)?;
        let now = now_ms();
        let ttl_ms = ttl.as_millis() as i64;
        redis::pipe()
            .zadd(&set, &conn, now + ttl_ms)
            .ignore()
            .pexpire(&set, ttl_ms)
            .ignore()
            .cmd("SET")
            .arg(&seen)
            .arg(now)
            .arg("PX")
            .arg(LAST_SEEN_TTL_MS)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(be)
    }

    async fn detach(&self, user: &str, conn: ConnRef<'_>) -> StoreResult<bool> {
        let (set, seen) = keys(user)?;
        let conn = member(conn)?;
        let went_offline: i64 = self
            .detach
            .key(&set)
            .key(&seen)
            .arg(now_ms())
            .arg(conn)
            .arg(LAST_SEEN_TTL_MS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(be)?;
        Ok(went_offline == 1)
    }

    async fn query(&self, users: &[String]) -> StoreResult<Vec<pb::PresenceInfo>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut pipe = redis::pipe();
        for u in users {
            let (set, seen) = keys(u)?;
            pipe.cmd("ZCOUNT")
                .arg(set)
                .arg(format!("({now}"))
                .arg("+inf");
            pipe.get(seen);
        }
        let replies: Vec<Option<i64>> =
            pipe.query_async(&mut self.conn.clone()).await.map_err(be)?;
        Ok(users
            .iter()
            .zip(replies.chunks(2))
            .map(|(u, r)| {
                let online = r[0].unwrap_or(0) > 0;
                pb::PresenceInfo {
                    user_id: u.clone(),
                    online,
                    last_seen_ms: if online {
                        now
                    } else {
                        r.get(1).copied().flatten().unwrap_or(0)
                    },
                }
            })
            .collect())
    }

    async fn routes(&self, users: &[String]) -> StoreResult<Vec<pb::UserRoute>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut pipe = redis::pipe();
        for u in users {
            let (set, _) = keys(u)?;
            pipe.cmd("ZRANGEBYSCORE")
                .arg(set)
                .arg(format!("({now}"))
                .arg("+inf");
        }
        let replies: Vec<Vec<String>> =
            pipe.query_async(&mut self.conn.clone()).await.map_err(be)?;
        Ok(users
            .iter()
            .zip(replies)
            .filter(|(_, members)| !members.is_empty())
            .map(|(u, members)| {
                let mut gateway_ids: Vec<String> = Vec::with_capacity(1);
                for m in &members {
                    let Some(g) = gateway_of(m) else {
                        // Somewhere unknown: deliver by user, reaching all.
                        gateway_ids.clear();
                        break;
                    };
                    if !gateway_ids.iter().any(|known| known == g) {
                        gateway_ids.push(g.to_string());
                    }
                }
                pb::UserRoute {
                    user_id: u.clone(),
                    gateway_ids,
                }
            })
            .collect())
    }
}
