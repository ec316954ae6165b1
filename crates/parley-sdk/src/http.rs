//! The HTTP endpoints of the gateway: register, login, refresh.

use crate::SdkError;
use parley_proto::v1 as pb;
use serde::de::DeserializeOwned;

/// The tokens of one device session.
pub type Tokens = pb::TokenPair;

async fn post<T: serde::Serialize, R: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    body: &T,
) -> Result<R, SdkError> {
    let resp = http
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_string(body).map_err(|e| SdkError::Http(e.to_string()))?)
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
            retry_after_ms: 0,
        });
    }
    serde_json::from_str(&text).map_err(|e| SdkError::Protocol(e.to_string()))
}

/// Creates an account.
pub async fn register(
    base_url: &str,
    username: &str,
    password: &str,
) -> Result<pb::User, SdkError> {
    let body = pb::Credentials {
        username: username.into(),
        password: password.into(),
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
    };
    post(http, &format!("{base_url}/v1/auth/refresh"), &body).await
}
