//! Token lifecycle and connection lifecycle against a running node.

mod common;

use common::{TestNode, close_code, next_json, raw, raw_authed, send_json};
use parley_gateway::close_codes;
use parley_sdk::ClientEvent;
use serde_json::json;

async fn post(node: &TestNode, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", node.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_reuse_revokes_the_session_and_closes_its_sockets() {
    let node = TestNode::start().await;
    let (mut ws, first) = raw_authed(&node, "alice").await;
    // An unrelated session of the same user stays up.
    let (mut other_ws, _) = raw_authed(&node, "alice").await;

    let (status, second) = post(
        &node,
        "/v1/auth/refresh",
        json!({"refreshToken": first.refresh_token}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refreshToken"], json!(first.refresh_token));

    // The spent token comes back: the whole family is revoked...
    let (status, err) = post(
        &node,
        "/v1/auth/refresh",
        json!({"refreshToken": first.refresh_token}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, _) = post(
        &node,
        "/v1/auth/refresh",
        json!({"refreshToken": second["refreshToken"]}),
    )
    .await;
    assert_eq!(status, 401, "the newest token of the family is dead too");

    // ...and its live socket is told and closed.
    let bye = next_json(&mut ws).await.unwrap();
    assert_eq!(bye["goodbye"]["reason"], "revoked");
    assert_eq!(close_code(&mut ws).await, Some(close_codes::REVOKED));
    send_json(&mut other_ws, json!({"id": "p", "ping": {}})).await;
    assert!(
        next_json(&mut other_ws)
            .await
            .unwrap()
            .get("pong")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_auth_endpoints_report_clear_errors() {
    let node = TestNode::start().await;
    let (s, _) = post(
        &node,
        "/v1/auth/register",
        json!({"username": "dora", "password": "long enough"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, e) = post(
        &node,
        "/v1/auth/register",
        json!({"username": "dora", "password": "long enough"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("already_exists"))
    );
    // A common (breached) or patterned password is refused, saying why.
    for weak in ["password1", "qwertyuiop", "dorothy1234"] {
        let (s, e) = post(
            &node,
            "/v1/auth/register",
            json!({"username": "dorothy", "password": weak}),
        )
        .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalid_argument"))
        );
        let why = e["error"]["message"].as_str().unwrap();
        assert!(
            why.contains("password is too easy to guess"),
            "{weak}: {why}"
        );
    }
    let (s, e) = post(
        &node,
        "/v1/auth/register",
        json!({"username": "Bad.Name", "password": "long enough"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_argument"))
    );
    let (s, e) = post(
        &node,
        "/v1/auth/login",
        json!({"username": "dora", "password": "wrong one!"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", node.base_url()))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // A cross-site form or text/plain POST (no preflight) is refused
    // before it reaches a handler.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = reqwest::Client::new().post(format!("{}/v1/auth/login", node.base_url()));
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let body = json!({"username": "dora", "password": "wrong one!"}).to_string();
        let resp = req.body(body).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 415, "{ct:?}");
    }
    let jwks: serde_json::Value =
        reqwest::get(format!("{}/.well-known/jwks.json", node.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert!(
        jwks["keys"][0]["kid"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );
    let (s, _) = post(&node, "/v1/auth/logout", json!({"refreshToken": "nope"})).await;
    assert_eq!(s, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_refreshes_an_expired_access_token_when_it_reconnects() {
    let node = TestNode::start_with(|c| {
        c.auth.access_token_ttl_secs = 1;
        c.gateway.token_leeway_secs = 0;
    })
    .await;
    let (alice, mut ev) = node.user("alice").await;
    let before = alice.tokens().refresh_token;
    alice.drop_connection();
    ev.wait(|e| matches!(e, ClientEvent::Disconnected { .. }).then_some(()))
        .await;
    ev.wait(|e| matches!(e, ClientEvent::Connected).then_some(()))
        .await;
    assert_ne!(
        alice.tokens().refresh_token,
        before,
        "the near-expiry token was refreshed before reconnecting"
    );
    alice.sync().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_clients_to_reconnect_and_health_endpoints_answer() {
    let mut node = TestNode::start().await;
    let base = node.base_url();
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    // Metrics are on the admin listener, not on the public one.
    let admin = reqwest::get(format!("{}/metrics", node.admin_url()))
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    let public = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(public.status(), 404);
    let (mut ws, _) = raw_authed(&node, "alice").await;
    assert!(node.metrics().await.contains("parley_gateway_connections"));
    node.stop().await;
    let bye = next_json(&mut ws).await.unwrap();
    assert_eq!(bye["goodbye"]["reason"], "shutdown");
    assert_eq!(close_code(&mut ws).await, Some(close_codes::SHUTDOWN));
    assert!(
        raw(
            &format!("{}/v1/ws", base.replace("http", "ws")),
            "parley.v1.json",
            None
        )
        .await
        .is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_storm_is_shed_with_429_and_retry_after() {
    let node = TestNode::start_with(|c| {
        c.auth.hash_concurrency = 1;
        c.auth.hash_queue = 2;
        // The hashing queue is what this test fills, not the per-address cap.
        c.gateway.sign_ins_per_address = 100;
    })
    .await;
    let storm: Vec<_> = (0..40)
        .map(|i| {
            let base = node.base_url();
            tokio::spawn(async move {
                let body = json!({"username": format!("nobody{i}"), "password": "guess guess"});
                reqwest::Client::new()
                    .post(format!("{base}/v1/auth/login"))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut shed = 0;
    for r in storm {
        let resp = r.await.unwrap();
        match resp.status().as_u16() {
            401 => {}
            429 => {
                shed += 1;
                assert_eq!(resp.headers()["retry-after"], "1");
                let e: serde_json::Value =
                    serde_json::from_str(&resp.text().await.unwrap()).unwrap();
                assert_eq!(e["error"]["code"], "rate_limited");
                assert_eq!(e["error"]["retryAfterMs"], 1000);
            }
            s => panic!("status {s}"),
        }
    }
    assert!(shed > 0, "one hashing thread and two places in its queue");
    // The storm is over: sign-ins go through again.
    let (s, _) = post(
        &node,
        "/v1/auth/register",
        json!({"username": "after", "password": common::PASSWORD}),
    )
    .await;
    assert_eq!(s, 201);
}

/// One failing login attempt (a password hash on the server); the status.
async fn bad_login(http: &reqwest::Client, base: &str, username: &str) -> u16 {
    let body = json!({"username": username, "password": "guess guess"});
    http.post(format!("{base}/v1/auth/login"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_in_a_login_storm_cannot_lock_out_another() {
    let node = TestNode::start_with(|c| {
        c.auth.hash_concurrency = 1;
        c.auth.hash_queue = 2;
    })
    .await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // One client for the storm: kept-alive connections, so the requests
    // pile up at the server rather than behind client set-up.
    let http = reqwest::Client::new();
    let storm: Vec<_> = (0..16)
        .map(|i| {
            let (node_url, stop, http) = (node.base_url(), stop.clone(), http.clone());
            tokio::spawn(async move {
                let mut refused = 0u32;
                // Bounded: stops when told, or after 500 attempts.
                for _ in 0..500 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    match bad_login(&http, &node_url, &format!("storm{i}")).await {
                        401 => {}
                        429 => refused += 1,
                        s => panic!("storm got {s}"),
                    }
                }
                refused
            })
        })
        .collect();
    // The bystander signs in one attempt at a time from another address:
    // never told to wait, however long the storm goes on.
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    for n in 0..6 {
        assert_eq!(
            bad_login(&elsewhere, &node.base_url(), &format!("by{n}")).await,
            401
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut refused = 0;
    for t in storm {
        refused += t.await.unwrap();
    }
    assert!(
        refused > 0,
        "16 concurrent sign-ins from one address, 2 allowed"
    );
    // The SDK waits as told and retries: a burst of registrations from one
    // address (an office behind one NAT) all get through.
    let burst: Vec<_> = (0..6)
        .map(|i| {
            let base = node.base_url();
            tokio::spawn(async move {
                parley_sdk::register(&base, &format!("office{i}"), common::PASSWORD).await
            })
        })
        .collect();
    for b in burst {
        b.await.unwrap().expect("registered after waiting");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_metrics_need_the_configured_token() {
    let node = TestNode::start_with(|c| {
        c.gateway.metrics_token = Some("s3cret-metrics".into());
    })
    .await;
    let url = format!("{}/metrics", node.base_url());
    let http = reqwest::Client::new();
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = http.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http
        .get(&url)
        .bearer_auth("s3cret-metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_back_off_without_trying_the_password_and_cannot_lock_the_owner_out() {
    let node = TestNode::start().await;
    let (s, _) = post(
        &node,
        "/v1/auth/register",
        json!({"username": "erin", "password": common::PASSWORD}),
    )
    .await;
    assert_eq!(s, 201);
    let wrong = json!({"username": "erin", "password": "not her password"});
    // Five failures are free: each a plain 401, the same as for an account
    // that does not exist.
    for _ in 0..5 {
        let (s, e) = post(&node, "/v1/auth/login", wrong.clone()).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (401, Some("unauthenticated"))
        );
    }
    let (s, e) = post(&node, "/v1/auth/login", wrong.clone()).await;
    assert_eq!(s, 401, "the sixth is checked, and starts the backoff: {e}");
    // Now even the right password waits (nothing is tried while waiting),
    // with 429, Retry-After and the wait in the body.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", node.base_url()))
        .header("content-type", "application/json")
        .body(json!({"username": "erin", "password": common::PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // A name that does not exist is answered alike (no way to tell).
    for _ in 0..6 {
        post(
            &node,
            "/v1/auth/login",
            json!({"username": "nobody", "password": "guess guess"}),
        )
        .await;
    }
    let (s, _) = post(
        &node,
        "/v1/auth/login",
        json!({"username": "nobody", "password": "guess guess"}),
    )
    .await;
    assert_eq!(s, 429);
    // Once the wait is over the owner gets in, and that clears the account.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (s, _) = post(
            &node,
            "/v1/auth/login",
            json!({"username": "erin", "password": common::PASSWORD}),
        )
        .await;
        if s == 200 {
            break;
        }
        assert_eq!(s, 429);
        assert!(std::time::Instant::now() < deadline, "never let in");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (s, _) = post(&node, "/v1/auth/login", wrong).await;
    assert_eq!(s, 401, "a fresh start after the success");
}
