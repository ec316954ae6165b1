//! The HTTP endpoints of the gateway: register, login, refresh, and the
//! signed-in account requests.

use crate::SdkError;
use parley_proto::v1 as pb;
use serde::de::DeserializeOwned;

/// The tokens of one device session.
pub type Tokens = pb::TokenPair;

/// Attempts of one HTTP call while the gateway answers 429 (sign-ins from
/// one address are capped while in progress, so a burst from one NAT or one
/// load generator is told to wait, not refused for good).
const RATE_LIMITED_ATTEMPTS: u32 = 10;
/// Longer waits are the caller's to show (a login backing off after
/// failures says how long), not to sleep through here.
const LONGEST_WAIT_RETRIED_MS: u32 = 5_000;

async fn post<T: serde::Serialize, R: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    body: &T,
) -> Result<R, SdkError> {
    let body = serde_json::to_string(body).map_err(|e| SdkError::Http(e.to_string()))?;
    let mut attempt = 1;
    loop {
        match post_once(http, url, &body).await {
            Err(SdkError::Server {
                code,
                retry_after_ms,
                ..
            }) if code == "rate_limited"
                && attempt < RATE_LIMITED_ATTEMPTS
                && retry_after_ms <= LONGEST_WAIT_RETRIED_MS =>
            {
                attempt += 1;
                tokio::time::sleep(jittered(retry_after_ms)).await;
            }
            other => return other,
        }
    }
}

/// The wait the server asked for, spread by up to +50% so that clients
/// refused together do not all come back in the same millisecond.
fn jittered(retry_after_ms: u32) -> std::time::Duration {
    let base = u64::from(retry_after_ms.clamp(10, 30_000));
    let spread = rand::random_range(0..=base / 2);
    std::time::Duration::from_millis(base + spread)
}

async fn post_once<R: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    body: &str,
) -> Result<R, SdkError> {
    let req = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    answer(req).await
}

/// Sends a request and reads its JSON answer (`{}` for an empty one), or
/// the server's error.
async fn answer<R: DeserializeOwned>(req: reqwest::RequestBuilder) -> Result<R, SdkError> {
    let resp = req
        .send()
        .await
        .map_err(|e| SdkError::Http(e.to_string()))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| SdkError::Http(e.to_string()))?;
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        return Err(SdkError::Server {
            code: v["error"]["code"]
                .as_str()
                .unwrap_or("http_error")
                .to_string(),
            message: v["error"]["message"].as_str().unwrap_or(&text).to_string(),
            retry_after_ms: v["error"]["retryAfterMs"]
                .as_u64()
                .and_then(|ms| u32::try_from(ms).ok())
                .unwrap_or(0),
        });
    }
    let text = if text.is_empty() { "{}" } else { &text };
    serde_json::from_str(text).map_err(|e| SdkError::Protocol(e.to_string()))
}

/// A signed-in request: `body` is sent as JSON when given.
pub(crate) async fn with_bearer<R: DeserializeOwned>(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    access_token: &str,
    body: Option<&impl serde::Serialize>,
) -> Result<R, SdkError> {
    let mut req = http
        .request(method, url)
        .header("authorization", format!("Bearer {access_token}"));
    if let Some(b) = body {
        let b = serde_json::to_string(b).map_err(|e| SdkError::Http(e.to_string()))?;
        req = req.header("content-type", "application/json").body(b);
    }
    answer(req).await
}

/// Creates an account.
pub async fn register(
    base_url: &str,
    username: &str,
    password: &str,
) -> Result<pb::User, SdkError> {
    register_with_invite(base_url, username, password, "").await
}

/// Creates an account on a server where registration is invite-only.
pub async fn register_with_invite(
    base_url: &str,
    username: &str,
    password: &str,
    invite_code: &str,
) -> Result<pb::User, SdkError> {
    let body = pb::Credentials {
        username: username.into(),
        password: password.into(),
        invite_code: invite_code.into(),
    };
    post(
        &reqwest::Client::new(),
        &format!("{base_url}/v1/auth/register"),
        &body,
    )
    .await
}

pub(crate) async fn login(
    http: &reqwest::Client,
    base_url: &str,
    username: &str,
    password: &str,
    device: &str,
) -> Result<Tokens, SdkError> {
    let body = pb::LoginRequest {
        username: username.into(),
        password: password.into(),
        device_name: device.into(),
        ..Default::default()
    };
    post(http, &format!("{base_url}/v1/auth/login"), &body).await
}

pub(crate) async fn refresh(
    http: &reqwest::Client,
    base_url: &str,
    refresh_token: &str,
) -> Result<Tokens, SdkError> {
    let body = pb::RefreshRequest {
        refresh_token: refresh_token.into(),
        ..Default::default()
    };
    post(http, &format!("{base_url}/v1/auth/refresh"), &body).await
}
