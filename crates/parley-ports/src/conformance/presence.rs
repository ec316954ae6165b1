use super::unique;
use crate::{ConnRef, PresenceStore};
use std::sync::Arc;
use std::time::Duration;

fn on<'a>(gateway: &'a str, id: &'a str) -> ConnRef<'a> {
    ConnRef { gateway, id }
}

/// Runs every presence-store check. `expire` must make `ttl` elapse (for
/// in-memory stores: advance paused tokio time; for Redis: a real wait).
pub async fn run<F, Fut>(store: Arc<dyn PresenceStore>, ttl: Duration, expire: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let s = &*store;
    let (u, v) = (unique("u"), unique("v"));
    let q = |users: Vec<String>| async move { s.query(&users).await.unwrap() };

    assert!(!q(vec![u.clone()]).await[0].online);
    assert!(
        s.attach(&u, on("g1", "c1"), ttl).await.unwrap(),
        "first connection brings the user online"
    );
    assert!(
        !s.attach(&u, on("g2", "c2"), ttl).await.unwrap(),
        "second connection changes nothing"
    );
    let got = q(vec![v.clone(), u.clone()]).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].user_id.as_str(), got[0].online),
        (v.as_str(), false)
    );
    assert_eq!((got[1].user_id.as_str(), got[1].online), (u.as_str(), true));
    routes(s, &u, &v, ttl).await;

    assert!(
        !s.detach(&u, on("g1", "c1")).await.unwrap(),
        "still online on c2"
    );
    assert!(
        s.detach(&u, on("g2", "c2")).await.unwrap(),
        "last connection gone: offline"
    );
    let info = &q(vec![u.clone()]).await[0];
    assert!(!info.online);
    assert!(info.last_seen_ms > 0, "going offline records last-seen");
    assert!(s.routes(std::slice::from_ref(&u)).await.unwrap().is_empty());

    // Connections that stop heartbeating expire.
    s.attach(&v, on("g1", "c1"), ttl).await.unwrap();
    s.attach(&u, on("g1", "c1"), ttl).await.unwrap();
    expire().await;
    s.heartbeat(&u, on("g1", "c1"), ttl).await.unwrap();
    let got = q(vec![u.clone(), v.clone()]).await;
    assert!(got[0].online, "heartbeats keep a connection alive");
    assert!(!got[1].online, "a connection without heartbeats expires");
    let r = s.routes(&[u.clone(), v.clone()]).await.unwrap();
    assert_eq!(r.len(), 1, "expired connections route nowhere");
    assert_eq!(r[0].gateway_ids, vec!["g1".to_string()]);
    assert!(
        s.attach(&v, on("g3", "c9"), ttl).await.unwrap(),
        "an expired user comes back online"
    );
    assert!(q(vec![]).await.is_empty());
    assert!(s.routes(&[]).await.unwrap().is_empty());
}

/// `u` is online on g1 and g2, `v` is offline.
async fn routes(s: &dyn PresenceStore, u: &str, v: &str, ttl: Duration) {
    let w = unique("w");
    // Two connections of one user on the same gateway name it once; a
    // connection registered without a gateway gives an empty route.
    s.attach(&w, on("g1", "c1"), ttl).await.unwrap();
    s.attach(&w, on("g1", "c2"), ttl).await.unwrap();
    let x = unique("x");
    s.attach(&x, on("", "c1"), ttl).await.unwrap();
    let asked = [v.to_string(), u.to_string(), w.clone(), x.clone()];
    let got = s.routes(&asked).await.unwrap();
    let users: Vec<&str> = got.iter().map(|r| r.user_id.as_str()).collect();
    assert_eq!(
        users,
        vec![u, w.as_str(), x.as_str()],
        "online users, in order"
    );
    let mut gateways = got[0].gateway_ids.clone();
    gateways.sort();
    assert_eq!(gateways, vec!["g1".to_string(), "g2".to_string()]);
    assert_eq!(got[1].gateway_ids, vec!["g1".to_string()]);
    assert!(got[2].gateway_ids.is_empty(), "unknown gateway");
    s.detach(&w, on("g1", "c1")).await.unwrap();
    s.detach(&w, on("g1", "c2")).await.unwrap();
    s.detach(&x, on("", "c1")).await.unwrap();
}
