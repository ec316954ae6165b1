use super::unique;
use crate::PresenceStore;
use std::sync::Arc;
use std::time::Duration;

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
        s.attach(&u, "c1", ttl).await.unwrap(),
        "first connection brings the user online"
    );
    assert!(
        !s.attach(&u, "c2", ttl).await.unwrap(),
        "second connection changes nothing"
    );
    let got = q(vec![v.clone(), u.clone()]).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].user_id.as_str(), got[0].online),
        (v.as_str(), false)
    );
    assert_eq!((got[1].user_id.as_str(), got[1].online), (u.as_str(), true));

    assert!(!s.detach(&u, "c1").await.unwrap(), "still online on c2");
    assert!(
        s.detach(&u, "c2").await.unwrap(),
        "last connection gone: offline"
    );
    let info = &q(vec![u.clone()]).await[0];
    assert!(!info.online);
    assert!(info.last_seen_ms > 0, "going offline records last-seen");

    // Connections that stop heartbeating expire.
    s.attach(&v, "c1", ttl).await.unwrap();
    s.attach(&u, "c1", ttl).await.unwrap();
    expire().await;
    s.heartbeat(&u, "c1", ttl).await.unwrap();
    let got = q(vec![u.clone(), v.clone()]).await;
    assert!(got[0].online, "heartbeats keep a connection alive");
    assert!(!got[1].online, "a connection without heartbeats expires");
    assert!(
        s.attach(&v, "c9", ttl).await.unwrap(),
        "an expired user comes back online"
    );
    assert!(q(vec![]).await.is_empty());
}
