//! The HTTP edge: sign-in and token endpoints (JSON in the proto3 mapping,
//! like the WebSocket JSON frames), the account and admin API
//! (`account_http.rs`), JWKS, health, readiness, metrics.

use crate::Gateway;
use crate::account_http::{self as A, Client};
use crate::ws::ws_handler;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};
use parley_core::services::AuthApi;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest HTTP request body (credentials and tokens are small).
const MAX_BODY: usize = 16 * 1024;

pub(crate) fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(crate::web::index))
        .route("/index.html", get(crate::web::index))
        .route("/assets/{name}", get(crate::web::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(
            Router::new()
                .route("/v1/auth/register", post(register))
                .route("/v1/auth/login", post(login))
                // Each of these costs a password hash.
                .route("/v1/account/password", post(A::change_password))
                .route(
                    "/v1/admin/accounts",
                    get(A::list_accounts).post(A::create_account),
                )
                .route("/v1/admin/accounts/{id}/password", post(A::reset_password))
                .route_layer(middleware::from_fn_with_state(gw.clone(), sign_in_share))
                .route("/v1/auth/refresh", post(refresh))
                .route("/v1/auth/registration", get(registration))
                .route("/v1/auth/providers", get(crate::sso_http::providers))
                .route(
                    "/v1/auth/oidc/{provider}/start",
                    get(crate::sso_http::start),
                )
                .route("/v1/auth/oidc/callback", get(crate::sso_http::callback))
                .route("/v1/auth/oidc/redeem", post(crate::sso_http::redeem))
                .route("/v1/auth/logout", post(logout))
                .route("/v1/account", get(A::my_account))
                .route("/v1/account/profile", put(A::update_profile))
                .route("/v1/account/people", get(A::people))
                .route("/v1/account/sessions", get(A::my_sessions))
                .route("/v1/account/sessions/end", post(A::end_my_sessions))
                .route("/v1/admin/accounts/{id}", get(A::get_account))
                .route("/v1/admin/accounts/{id}/active", post(A::set_active))
                .route("/v1/admin/accounts/{id}/role", post(A::set_role))
                .route(
                    "/v1/admin/accounts/{id}/sessions/end",
                    post(A::end_sessions),
                )
                .route(
                    "/v1/admin/registration",
                    get(A::get_registration).put(A::set_registration),
                )
                .route(
                    "/v1/admin/invites",
                    get(A::list_invites).post(A::create_invite),
                )
                .route("/v1/admin/invites/{id}", delete(A::revoke_invite))
                .route("/v1/admin/audit", get(A::audit_log))
                .route("/v1/admin/audit/export", get(A::audit_export))
                .route_layer(middleware::from_fn_with_state(gw.clone(), request_deadline)),
        )
        .route("/v1/ws", any(ws_handler))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(gw)
}

/// A body trickled byte by byte (or a handler stuck behind a backend) must
/// not hold the connection: the whole request is bounded.
async fn request_deadline(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(gw.config.http_request_timeout(), next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            metrics::counter!("parley_gateway_http_timeouts_total").increment(1);
            let body = serde_json::json!({ "error": {
                "code": "request_timeout",
                "message": "the request was not completed in time",
            }});
            (
                StatusCode::REQUEST_TIMEOUT,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONNECTION, "close"),
                ],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// A sign-in costs a password hash, and the auth service sheds hashes
/// beyond its queue with 429: one address may have only a few in progress,
/// so that it cannot fill that queue and lock every bystander out
/// (measured: with shedding alone, 200 looping logins from one address got
/// all 15 of a bystander's logins refused).
async fn sign_in_share(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let _slot = match ip.map(|ip| gw.sign_ins.take(ip)) {
        Some(None) => {
            metrics::counter!("parley_gateway_sign_ins_refused_total").increment(1);
            return error_response(&ServiceError::ResourceExhausted(
                "too many sign-ins from your address at once; retry in a second".into(),
            ));
        }
        Some(Some(slot)) => Some(slot),
        None => None,
    };
    next.run(req).await
}

async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    if gw.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    }
}

/// `/metrics` on the public listener: only with the configured bearer
/// token (compared in constant time); otherwise it does not exist here.
async fn metrics(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let Some(token) = gw.config.metrics_token.as_deref().filter(|t| !t.is_empty()) else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are served on the admin listener (cluster.admin_listen)",
        )
            .into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        presented.as_bytes(),
        token.as_bytes(),
    )) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a metrics token is required",
        )
            .into_response();
    }
    match &gw.metrics {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

async fn jwks(State(gw): State<Arc<Gateway>>) -> Response {
    match gw.auth.jwks(pb::Empty {}).await {
        Ok(j) => ([(header::CONTENT_TYPE, "application/json")], j.json).into_response(),
        Err(e) => error_response(&e),
    }
}

fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::AlreadyExists(_) => StatusCode::CONFLICT,
        ServiceError::ResourceExhausted(_) => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Seconds a client is asked to wait after a refusal for load (429) or an
/// unavailable backend (503).
const RETRY_AFTER_SECS: u32 = 1;

pub(crate) fn error_response(e: &ServiceError) -> Response {
    let status = status_of(e);
    let retry = matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    );
    let mut error = serde_json::json!({ "code": e.protocol_code(), "message": e.public_message() });
    if retry {
        error["retryAfterMs"] = (RETRY_AFTER_SECS * 1000).into();
    }
    let body = serde_json::json!({ "error": error }).to_string();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if retry {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, RETRY_AFTER_SECS.into());
    }
    response
}

/// 429 for a login that must wait after failures, saying how long (the
/// same answer whether or not the account exists).
fn throttled(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    throttled_with(
        wait,
        &format!("too many failed sign-ins; try again in {secs} s"),
    )
}

/// 429 with `Retry-After` (whole seconds, rounded up) and `message`.
fn throttled_with(wait: std::time::Duration, message: &str) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let body = serde_json::json!({ "error": {
        "code": "rate_limited",
        "message": message,
        "retryAfterMs": secs * 1000,
    }});
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::RETRY_AFTER, secs.to_string()),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The auth endpoints take JSON only. A browser sends a cross-site form or
/// `text/plain` POST without asking first; requiring `application/json`
/// (which needs a CORS preflight that we never grant) stops such requests
/// before they reach a handler.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) fn not_json() -> Response {
    let body = serde_json::json!({ "error": {
        "code": "invalid_argument",
        "message": "the body must be JSON, sent with Content-Type: application/json",
    }});
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    let body = serde_json::to_string(v).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Parses a JSON body, calls the auth service, renders its reply.
pub(crate) async fn call<Req, Resp, Fut>(
    headers: &HeaderMap,
    body: &str,
    ok: StatusCode,
    f: impl FnOnce(Req) -> Fut,
) -> Response
where
    Req: DeserializeOwned,
    Resp: Serialize,
    Fut: std::future::Future<Output = ServiceResult<Resp>>,
{
    if !is_json(headers) {
        return not_json();
    }
    let req: Req = match serde_json::from_str(body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(&ServiceError::InvalidArgument(format!(
                "malformed JSON body: {e}"
            )));
        }
    };
    match f(req).await {
        Ok(reply) => json(ok, &reply),
        Err(e) => error_response(&e),
    }
}

/// A registration, unless this address made too many accounts this hour
/// (counted when the request is well-formed JSON, whatever the outcome:
/// probing for free usernames costs the same).
async fn register(
    State(gw): State<Arc<Gateway>>,
    ip: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let (Some(limit), Some(ip)) = (&gw.registrations, ip)
        && is_json(&headers)
        && let Err(wait) = limit.take(&ip.0.0.ip())
    {
        metrics::counter!("parley_gateway_registrations_throttled_total").increment(1);
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return throttled_with(
            wait,
            &format!(
                "too many new accounts from your address: at most {} an hour; try again in {secs} s",
                limit.per_hour
            ),
        );
    }
    call(
        &headers,
        &body,
        StatusCode::CREATED,
        |r: pb::Credentials| gw.auth.register(r),
    )
    .await
}

/// A login, slowed down after failures (`login_throttle.rs`): while the
/// caller must wait, refused before the password is checked.
async fn login(State(gw): State<Arc<Gateway>>, Client(client): Client, req: Request) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            return error_response(&ServiceError::InvalidArgument(format!(
                "unreadable body: {e}"
            )));
        }
    };
    if let Some(ip) = ip
        && is_json(&headers)
        && let Ok(r) = serde_json::from_str::<pb::LoginRequest>(&body)
        && let Some(wait) = gw.logins.wait(ip, &r.username)
    {
        metrics::counter!("parley_gateway_logins_throttled_total").increment(1);
        return throttled(wait);
    }
    call(
        &headers,
        &body,
        StatusCode::OK,
        |r: pb::LoginRequest| async move {
            let r = pb::LoginRequest {
                client: Some(client),
                ..r
            };
            let Some(ip) = ip else {
                return gw.auth.login(r).await;
            };
            let username = r.username.clone();
            let result = gw.auth.login(r).await;
            match &result {
                Ok(_) => gw.logins.succeeded(ip, &username),
                Err(ServiceError::Unauthenticated(_)) => gw.logins.failed(ip, &username),
                Err(_) => {}
            }
            result
        },
    )
    .await
}

/// Who may register now (the sign-up screen shows an invite-code field, or
/// no sign-up at all).
async fn registration(State(gw): State<Arc<Gateway>>) -> Response {
    match gw.auth.registration(pb::Empty {}).await {
        Ok(r) => json(
            StatusCode::OK,
            &serde_json::json!({ "mode": r.mode().as_str_name() }),
        ),
        Err(e) => error_response(&e),
    }
}

async fn refresh(
    State(gw): State<Arc<Gateway>>,
    Client(client): Client,
    headers: HeaderMap,
    body: String,
) -> Response {
    call(&headers, &body, StatusCode::OK, |r: pb::RefreshRequest| {
        gw.auth.refresh(pb::RefreshRequest {
            client: Some(client),
            ..r
        })
    })
    .await
}

async fn logout(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: String) -> Response {
    match call(&headers, &body, StatusCode::OK, |r: pb::RefreshRequest| {
        gw.auth.logout(r)
    })
    .await
    {
        r if r.status() == StatusCode::OK => StatusCode::NO_CONTENT.into_response(),
        r => r,
    }
}
