//! Accounts over the public HTTP API against a running node: ended
//! sessions' access tokens refused at once (new sockets and requests, also
//! after a restart), administration by the admin alone, deactivation.

mod common;

use common::{TestNode, bearer, close_code, next_json, raw_authed, token_refused};
use parley_gateway::close_codes;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_sessions_access_token_is_refused_at_once_and_after_a_restart() {
    let mut node = TestNode::start().await;
    let (mut phone_ws, phone) = raw_authed(&node, "alice").await;
    let (_laptop_ws, laptop) = raw_authed(&node, "alice").await;
    let base = node.base_url();

    // The laptop lists both sessions and ends the phone's.
    let (status, list) = bearer(
        Method::GET,
        &format!("{base}/v1/account/sessions"),
        &laptop.access_token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(
        sessions
            .iter()
            .any(|s| s["current"] == true && s["sessionId"] == laptop.session_id.as_str())
    );
    assert!(sessions.iter().all(|s| s["clientAddress"] == "127.0.0.1"));
    let (status, _) = bearer(
        Method::POST,
        &format!("{base}/v1/account/sessions/end"),
        &laptop.access_token,
        Some(json!({"sessionIds": [phone.session_id]})),
    )
    .await;
    assert_eq!(status, 204);

    // Its open socket closes, and its unexpired access token opens nothing.
    let bye = next_json(&mut phone_ws).await.unwrap();
    assert_eq!(bye["goodbye"]["reason"], "revoked");
    assert_eq!(close_code(&mut phone_ws).await, Some(close_codes::REVOKED));
    assert!(token_refused(&node.ws_url(), &phone.access_token).await);
    let (status, _) = bearer(
        Method::GET,
        &format!("{base}/v1/account"),
        &phone.access_token,
        None,
    )
    .await;
    assert_eq!(status, 401, "nor any HTTP request");
    assert!(!token_refused(&node.ws_url(), &laptop.access_token).await);

    // A restarted gateway reads the revocation back from the store.
    node.restart().await;
    assert!(token_refused(&node.ws_url(), &phone.access_token).await);
    assert!(!token_refused(&node.ws_url(), &laptop.access_token).await);

    // Logout ends the laptop's session the same way.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/auth/logout", node.base_url()))
        .header("content-type", "application/json")
        .body(json!({"refreshToken": laptop.refresh_token}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(token_refused(&node.ws_url(), &laptop.access_token).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_administers_over_http_and_a_deactivated_user_is_shut_out() {
    let node = TestNode::start().await;
    let base = node.base_url();
    // The first account of a new server is its admin.
    let (_root_ws, root) = raw_authed(&node, "root").await;
    let (mut bob_ws, bob) = raw_authed(&node, "bob").await;
    let (status, me) = bearer(
        Method::GET,
        &format!("{base}/v1/account"),
        &root.access_token,
        None,
    )
    .await;
    assert_eq!(
        (status, me["role"].as_str()),
        (200, Some("ACCOUNT_ROLE_ADMIN"))
    );

    let accounts = format!("{base}/v1/admin/accounts");
    let (status, err) = bearer(Method::GET, &accounts, &bob.access_token, None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = bearer(Method::GET, &accounts, "not-a-token", None).await;
    assert_eq!(status, 401);
    let (status, list) = bearer(
        Method::GET,
        &format!("{accounts}?prefix=b"),
        &root.access_token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["accounts"][0]["username"], "bob");

    // Deactivating bob closes his socket and refuses his token and password.
    let (status, acc) = bearer(
        Method::POST,
        &format!("{accounts}/{}/active", bob.user_id),
        &root.access_token,
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, 200, "{acc}");
    assert!(acc["deactivatedAtMs"].as_str().is_some_and(|s| s != "0"));
    assert_eq!(close_code(&mut bob_ws).await, Some(close_codes::REVOKED));
    assert!(token_refused(&node.ws_url(), &bob.access_token).await);
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .header("content-type", "application/json")
        .body(json!({"username": "bob", "password": common::PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Registration closed by the admin: strangers cannot sign up.
    let (status, reg) = bearer(
        Method::PUT,
        &format!("{base}/v1/admin/registration"),
        &root.access_token,
        Some(json!({"mode": "REGISTRATION_MODE_CLOSED"})),
    )
    .await;
    assert_eq!(
        (status, reg["mode"].as_str()),
        (200, Some("REGISTRATION_MODE_CLOSED"))
    );
    let err = parley_sdk::register(&base, "walkin", common::PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("forbidden"));
    let public: serde_json::Value = reqwest::get(format!("{base}/v1/auth/registration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["mode"], "REGISTRATION_MODE_CLOSED", "anyone may ask");

    // The audit log says who did what, and exports as JSON lines.
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/admin/audit/export"))
        .header("authorization", format!("Bearer {}", root.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<_> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["registration.set", "account.deactivate"]);
    assert_eq!(lines[1]["actorUsername"], "root");
    assert_eq!(lines[1]["targetUsername"], "bob");
    assert_eq!(lines[1]["actorAddress"], "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_lists_and_ends_sessions_and_changes_the_password() {
    let node = TestNode::start().await;
    let (laptop, _laptop_ev) = node.user("alice").await;
    let (phone, mut phone_ev) = node.login("alice", parley_sdk::Encoding::Json).await;
    let sessions = laptop.sessions().await.unwrap();
    assert_eq!(sessions.len(), 2);
    let me = sessions.iter().find(|s| s.current).unwrap();
    assert_eq!(me.session_id, laptop.tokens().session_id);
    assert_eq!(laptop.account().await.unwrap().username, "alice");

    laptop.end_other_sessions().await.unwrap();
    phone_ev
        .wait(|e| matches!(e, parley_sdk::ClientEvent::Revoked).then_some(()))
        .await;
    assert!(!phone.is_connected());
    assert_eq!(laptop.sessions().await.unwrap().len(), 1);

    let wrong = laptop
        .change_password("not my password", "a brand new passphrase")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("forbidden"));
    laptop
        .change_password(common::PASSWORD, "a brand new passphrase")
        .await
        .unwrap();
    let mut cfg = parley_sdk::ClientConfig::new(node.base_url());
    cfg.encoding = parley_sdk::Encoding::Json;
    assert!(
        parley_sdk::Client::login(cfg, "alice", "a brand new passphrase")
            .await
            .is_ok()
    );
}

/// `parley admin ...` on `data_dir`: whether it succeeded, and its output.
fn parley_admin(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("admin")
        .args(args)
        .env("PARLEY_DATA_DIR", data_dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_names_an_admin_while_parley_is_stopped() {
    let mut node = TestNode::start().await;
    node.tokens("root").await;
    let bob = node.tokens("bob").await;
    let dir = node.data_dir();
    // The embedded store is locked while Parley runs: a clear refusal.
    let (ok, text) = parley_admin(&dir, &["grant", "bob"]);
    assert!(!ok);
    assert!(text.contains("stop it first"), "{text}");
    node.stop().await;
    let (ok, text) = parley_admin(&dir, &["grant", "bob"]);
    assert!(ok, "{text}");
    assert!(text.contains("bob is an admin"), "{text}");
    let (ok, text) = parley_admin(&dir, &["grant", "nobody"]);
    assert!(!ok && text.contains("no account is named"), "{text}");
    let (ok, text) = parley_admin(&dir, &["registration", "sometimes"]);
    assert!(!ok && text.contains("invite_only"), "{text}");
    let (ok, _) = parley_admin(&dir, &["registration", "invite_only"]);
    assert!(ok);
    node.restart().await;
    let (status, me) = bearer(
        Method::GET,
        &format!("{}/v1/admin/registration", node.base_url()),
        &bob.access_token,
        None,
    )
    .await;
    assert_eq!(status, 200, "bob is an admin now: {me}");
    assert_eq!(me["mode"], "REGISTRATION_MODE_INVITE_ONLY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_creates_only_so_many_accounts_an_hour() {
    let node = TestNode::start_with(|c| c.gateway.registrations_per_hour_per_address = 3).await;
    let base = node.base_url();
    let register = |name: &'static str| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/auth/register"))
                .header("content-type", "application/json")
                .body(json!({"username": name, "password": common::PASSWORD}).to_string())
                .send()
                .await
                .unwrap()
        }
    };
    for name in ["one", "two", "three"] {
        assert_eq!(register(name).await.status().as_u16(), 201, "{name}");
    }
    let refused = register("four").await;
    assert_eq!(refused.status().as_u16(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 3 an hour: the next one in about 20 minutes.
    assert!((1..=1200).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 an hour"),
        "{body}"
    );
    // Signing in is not registering: the accounts made still log in.
    let (_ws, tokens) = raw_authed(&node, "one").await;
    assert!(!tokens.access_token.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_name_and_status_are_set_by_their_owner_and_seen_by_others() {
    let node = TestNode::start().await;
    let (_ann_ws, ann) = raw_authed(&node, "ann").await;
    let (bob, _bob_ev) = node.user("bob").await;
    let url = format!("{}/v1/account/profile", node.base_url());
    let (status, acc) = bearer(
        Method::PUT,
        &url,
        &ann.access_token,
        Some(json!({"displayName": "  Ann Lee ", "statusText": "On leave until Monday"})),
    )
    .await;
    assert_eq!(status, 200, "{acc}");
    assert_eq!(acc["displayName"], "Ann Lee", "trimmed");
    // Others see it wherever users are looked up.
    let found = bob.lookup_users(&["ann"]).await.unwrap();
    assert_eq!(found[0].display_name, "Ann Lee");
    assert_eq!(found[0].status_text, "On leave until Monday");
    // Too long, or with line breaks or direction overrides: refused.
    for bad in [
        json!({"displayName": "x".repeat(65)}),
        json!({"displayName": "Ann\nLee"}),
        json!({"displayName": "Ann \u{202e}eeL"}),
        json!({"statusText": "y".repeat(141)}),
    ] {
        let (status, err) = bearer(Method::PUT, &url, &ann.access_token, Some(bad)).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("invalid_argument"))
        );
    }
    // Cleared: the username shows again.
    let (_, acc) = bearer(Method::PUT, &url, &ann.access_token, Some(json!({}))).await;
    assert_eq!(acc.get("displayName"), None);
    // The SDK sets it too.
    let acc = bob.update_profile("Bob B.", "").await.unwrap();
    assert_eq!(acc.display_name, "Bob B.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_tells_the_app_what_went_wrong_and_bounds_starts_per_address() {
    let node = TestNode::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let location =
        |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().replace('+', " ");
    // No such provider: back to the app with the reason.
    let start = format!("{}/v1/auth/oidc/nope/start?device=x", node.base_url());
    let r = http.get(&start).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(location(&r).starts_with("/#sso_error="), "{}", location(&r));
    assert!(
        location(&r).contains("no sign-in provider"),
        "{}",
        location(&r)
    );
    // A callback this browser did not start (no state cookie).
    let r = http
        .get(format!(
            "{}/v1/auth/oidc/callback?code=c&state=s",
            node.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert!(
        location(&r).contains("not started in this browser"),
        "{}",
        location(&r)
    );
    // A ticket nobody issued.
    let (status, _) = common::bearer(
        Method::POST,
        &format!("{}/v1/auth/oidc/redeem", node.base_url()),
        "",
        Some(json!({"ticket": "made-up"})),
    )
    .await;
    assert_eq!(status, 401);
    // Starts are bounded per address (each stores a pending sign-in).
    let mut throttled = false;
    for _ in 0..25 {
        let r = http.get(&start).send().await.unwrap();
        if location(&r).contains("too many sign-ins started") {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "21 starts in a row are not all accepted");
    let providers: serde_json::Value =
        reqwest::get(format!("{}/v1/auth/providers", node.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(providers, json!({}), "none configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_lists_those_who_share_a_conversation_never_strangers() {
    let node = TestNode::start().await;
    let (ann, _a) = node.user("ann").await;
    let (bob, _b) = node.user("bob").await;
    let (_carol, _c) = node.user("carol").await;
    bob.update_profile("Robert Brown", "").await.unwrap();
    ann.create_direct(&bob.user_id()).await.unwrap();
    let names = |users: Vec<parley_sdk::pb::User>| -> Vec<String> {
        users.into_iter().map(|u| u.username).collect()
    };
    assert_eq!(names(ann.people("").await.unwrap()), ["bob"]);
    assert_eq!(names(ann.people("bo").await.unwrap()), ["bob"]);
    assert_eq!(
        names(ann.people("Rob").await.unwrap()),
        ["bob"],
        "display name"
    );
    assert_eq!(
        names(ann.people("brown").await.unwrap()),
        ["bob"],
        "its last word"
    );
    assert!(
        ann.people("car").await.unwrap().is_empty(),
        "carol shares nothing with ann: not found, though she exists"
    );
    assert_eq!(names(bob.people("").await.unwrap()), ["ann"]);
}
