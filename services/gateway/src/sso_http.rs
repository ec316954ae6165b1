//! Single sign-on's HTTP edge (docs/protocol.md 2.5). The browser goes to
//! `start`, which sends it to the identity provider with a cookie that ties
//! the sign-in to this browser (so nobody can make a victim's browser finish
//! a sign-in the attacker started: login CSRF); the provider sends it back
//! to `callback`, which sends it on to the app with a one-time ticket in the
//! URL fragment (`/#sso=...`, or `/#sso_error=...`); the app trades the
//! ticket for tokens at `redeem`.

use crate::Gateway;
use crate::account_http::Client;
use crate::http::{call, error_response, json};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::ServiceError;
use parley_core::services::AuthApi;
use parley_proto::v1 as pb;
use serde::Deserialize;
use std::sync::Arc;

/// Ties a sign-in to the browser that started it; sent only to the
/// callback, never readable by scripts.
const STATE_COOKIE: &str = "parley_sso_state";
const COOKIE_PATH: &str = "/v1/auth/oidc";

pub(crate) async fn providers(State(gw): State<Arc<Gateway>>) -> Response {
    match gw.auth.oidc_providers(pb::Empty {}).await {
        Ok(list) => json(StatusCode::OK, &list),
        Err(e) => error_response(&e),
    }
}

/// Back to the app, with what it should show.
fn to_app(fragment: &str) -> Response {
    let location = format!("/#{fragment}");
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
            // Spent: the cookie is of no further use.
            (
                header::SET_COOKIE,
                format!("{STATE_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax"),
            ),
        ],
    )
        .into_response()
}

fn to_app_error(e: &ServiceError) -> Response {
    // The reason alone, as the app shows it (not "permission denied: ...").
    let message = match e {
        ServiceError::Internal(_) => "sign-in failed on the server".to_string(),
        ServiceError::InvalidArgument(m)
        | ServiceError::NotFound(m)
        | ServiceError::PermissionDenied(m)
        | ServiceError::Unauthenticated(m)
        | ServiceError::AlreadyExists(m)
        | ServiceError::ResourceExhausted(m)
        | ServiceError::Unavailable(m) => m.clone(),
    };
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    to_app(&format!("sso_error={encoded}"))
}

#[derive(Deserialize)]
pub(crate) struct StartQuery {
    #[serde(default)]
    device: String,
}

pub(crate) async fn start(
    State(gw): State<Arc<Gateway>>,
    ip: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Path(provider): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    // Each start stores a pending sign-in for 10 minutes: one address may
    // start only so many (a person needs a few).
    if let Some(ip) = ip
        && let Err(wait) = gw.sso_starts.take(&ip.0.0.ip())
    {
        metrics::counter!("parley_gateway_sso_starts_throttled_total").increment(1);
        return to_app_error(&ServiceError::ResourceExhausted(format!(
            "too many sign-ins started from your address: try again in {} s",
            wait.as_secs().max(1)
        )));
    }
    let req = pb::OidcStartRequest {
        provider_id: provider,
        device_name: q.device.chars().take(64).collect(),
    };
    let reply = match gw.auth.oidc_start(req).await {
        Ok(r) => r,
        Err(e) => return to_app_error(&e),
    };
    let url = url::Url::parse(&reply.authorization_url).ok();
    let param = |name: &str| {
        url.as_ref()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_default()
    };
    let state = param("state");
    // Behind TLS (the provider sends the browser back to an https:// URL),
    // the cookie is never sent in clear.
    let secure = if param("redirect_uri").starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, reply.authorization_url),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{STATE_COOKIE}={state}; Path={COOKIE_PATH}; Max-Age=600; HttpOnly; SameSite=Lax{secure}"
                ),
            ),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

fn state_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == STATE_COOKIE)
        .map(|(_, v)| v.to_string())
}

pub(crate) async fn callback(
    State(gw): State<Arc<Gateway>>,
    Client(client): Client,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    if state_cookie(&headers).as_deref() != Some(q.state.as_str()) || q.state.is_empty() {
        return to_app_error(&ServiceError::Unauthenticated(
            "this sign-in was not started in this browser, or has expired: start again".into(),
        ));
    }
    let req = pb::OidcFinishRequest {
        state: q.state,
        code: q.code,
        error: q.error,
        error_description: q.error_description,
        client: Some(client),
    };
    match gw.auth.oidc_finish(req).await {
        Ok(t) => to_app(&format!("sso={}", t.ticket)),
        Err(e) => to_app_error(&e),
    }
}

pub(crate) async fn redeem(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    call(&headers, &body, StatusCode::OK, |r: pb::OidcTicket| {
        gw.auth.oidc_redeem(r)
    })
    .await
}
