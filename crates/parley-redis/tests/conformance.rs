//! Redis presence against the presence conformance suite, on a real
//! redis-server, plus recovery from a Redis restarted empty.

use parley_ports::{ConnRef, PresenceStore, conformance};

fn conn(id: &str) -> ConnRef<'_> {
    ConnRef { gateway: "g1", id }
}
use parley_redis::RedisPresence;
use parley_testkit::RedisServer;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_presence_conforms() {
    let server = RedisServer::start();
    let store = RedisPresence::connect(&server.url()).await.unwrap();
    let ttl = Duration::from_millis(600);
    // Real time: the suite needs the TTL to pass on the server's clock.
    conformance::presence::run(Arc::new(store), ttl, || {
        tokio::time::sleep(ttl + Duration::from_millis(200))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_recovers_after_redis_restarts_empty() {
    let mut server = RedisServer::start();
    let store = RedisPresence::connect(&server.url()).await.unwrap();
    let ttl = Duration::from_secs(30);
    store.attach("u1", conn("c1"), ttl).await.unwrap();
    server.restart();
    // While Redis is back but empty, the next heartbeat puts the user back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if store.heartbeat("u1", conn("c1"), ttl).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reconnect to the restarted Redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let q = store.query(&["u1".to_string()]).await.unwrap();
    assert!(q[0].online);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_never_become_keys_unchecked() {
    let server = RedisServer::start();
    let store = RedisPresence::connect(&server.url()).await.unwrap();
    for bad in ["a b", "a*", "a:b", ""] {
        assert!(
            store
                .attach(bad, conn("c"), Duration::from_secs(1))
                .await
                .is_err()
        );
        assert!(
            store
                .attach("u", conn(bad), Duration::from_secs(1))
                .await
                .is_err()
        );
        let gateway = ConnRef {
            gateway: bad,
            id: "c",
        };
        if !bad.is_empty() {
            assert!(
                store
                    .attach("u", gateway, Duration::from_secs(1))
                    .await
                    .is_err()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_without_the_password_is_refused_without_echoing_it() {
    let server = RedisServer::start();
    let wrong = server.url().replace("redis://:", "redis://:not");
    for url in [server.url_without_credentials(), wrong.clone()] {
        let result = match RedisPresence::connect(&url).await {
            Ok(store) => store
                .attach("u1", conn("c1"), Duration::from_secs(30))
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        let err = result
            .expect_err("redis-server requires a password")
            .to_string();
        let secret = wrong
            .trim_start_matches("redis://:")
            .split('@')
            .next()
            .unwrap();
        assert!(!err.contains(secret), "{err}");
    }
}
