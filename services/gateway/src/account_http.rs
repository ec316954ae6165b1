//! The HTTP API of one's own account (`/v1/account/...`) and of
//! administration (`/v1/admin/...`): JSON in the proto3 mapping, the
//! caller named by `Authorization: Bearer <access token>` (a header, so a
//! cross-site page cannot make a browser send it). The auth service checks
//! that an admin request's actor is an admin, and audits every change.

use crate::Gateway;
use crate::http::{call, error_response, json};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_core::services::AuthApi;
use parley_core::{ServiceError, ServiceResult};
use parley_jwt::Claims;
use parley_proto::v1 as pb;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// Most audit entries one export carries (newest first).
const MAX_AUDIT_EXPORT: usize = 100_000;

/// Where a request came from: its address and User-Agent.
pub(crate) struct Client(pub(crate) pb::ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect())
            .unwrap_or_default();
        Ok(Client(pb::ClientInfo {
            address,
            user_agent,
        }))
    }
}

/// The signed-in caller (a valid access token of a live session).
async fn caller(gw: &Gateway, headers: &HeaderMap) -> Result<Claims, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return Err(error_response(&ServiceError::Unauthenticated(
            "send Authorization: Bearer <access token>".into(),
        )));
    };
    gw.tokens
        .verify(token)
        .await
        .map_err(|e| error_response(&ServiceError::Unauthenticated(e.to_string())))
}

fn actor(claims: &Claims, client: Client) -> pb::AdminActor {
    pb::AdminActor {
        user_id: claims.sub.clone(),
        session_id: claims.sid.clone(),
        client: Some(client.0),
    }
}

fn reply<T: serde::Serialize>(r: ServiceResult<T>) -> Response {
    match r {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error_response(&e),
    }
}

fn no_content(r: Response) -> Response {
    if r.status() == StatusCode::OK {
        StatusCode::NO_CONTENT.into_response()
    } else {
        r
    }
}

/// Runs `$body` with `$claims` bound to the caller, or answers 401.
macro_rules! signed_in {
    ($gw:expr, $headers:expr, |$claims:ident| $body:expr) => {
        match caller(&$gw, &$headers).await {
            Ok($claims) => $body,
            Err(r) => r,
        }
    };
}

/// An admin request with a JSON body: the signed-in caller becomes the
/// actor (auth checks that it is an admin), the body is parsed, `f` makes
/// the call, and its reply is rendered with `ok`.
async fn as_admin<Req, Resp, Fut>(
    gw: &Gateway,
    client: Client,
    headers: &HeaderMap,
    body: &str,
    ok: StatusCode,
    f: impl FnOnce(pb::AdminActor, Req) -> Fut,
) -> Response
where
    Req: serde::de::DeserializeOwned,
    Resp: serde::Serialize,
    Fut: std::future::Future<Output = ServiceResult<Resp>>,
{
    match caller(gw, headers).await {
        Ok(c) => {
            let a = actor(&c, client);
            call(headers, body, ok, |r: Req| f(a, r)).await
        }
        Err(r) => r,
    }
}

pub(crate) async fn my_account(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    signed_in!(gw, headers, |c| {
        let r = pb::AccountRef {
            user_id: c.sub,
            session_id: c.sid,
        };
        reply(gw.auth.get_account(r).await)
    })
}

pub(crate) async fn my_sessions(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    signed_in!(gw, headers, |c| {
        let r = pb::AccountRef {
            user_id: c.sub,
            session_id: c.sid,
        };
        reply(gw.auth.list_sessions(r).await)
    })
}

pub(crate) async fn end_my_sessions(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    signed_in!(gw, headers, |c| no_content(
        call(
            &headers,
            &body,
            StatusCode::OK,
            |r: pb::EndSessionsRequest| {
                gw.auth.end_sessions(pb::EndSessionsRequest {
                    user_id: c.sub,
                    session_id: c.sid,
                    ..r
                })
            }
        )
        .await
    ))
}

pub(crate) async fn change_password(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    signed_in!(gw, headers, |c| no_content(
        call(
            &headers,
            &body,
            StatusCode::OK,
            |r: pb::ChangePasswordRequest| {
                gw.auth.change_password(pb::ChangePasswordRequest {
                    user_id: c.sub,
                    session_id: c.sid,
                    ..r
                })
            }
        )
        .await
    ))
}

#[derive(Deserialize)]
pub(crate) struct PeopleQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    limit: u32,
}

/// The people who share a conversation with the caller (`people.rs`).
pub(crate) async fn people(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(q): Query<PeopleQuery>,
) -> Response {
    signed_in!(gw, headers, |c| reply(
        crate::people::people(&gw, &c.sub, &q.prefix, q.limit).await
    ))
}

pub(crate) async fn update_profile(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    signed_in!(gw, headers, |c| call(
        &headers,
        &body,
        StatusCode::OK,
        |r: pb::UpdateProfileRequest| {
            gw.auth.update_profile(pb::UpdateProfileRequest {
                user_id: c.sub,
                ..r
            })
        }
    )
    .await)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountsQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    limit: u32,
}

pub(crate) async fn list_accounts(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Query(q): Query<AccountsQuery>,
) -> Response {
    signed_in!(gw, headers, |c| {
        let r = pb::AdminListAccountsRequest {
            actor: Some(actor(&c, client)),
            prefix: q.prefix,
            after: q.after,
            limit: q.limit,
        };
        reply(gw.auth.admin_list_accounts(r).await)
    })
}

pub(crate) async fn create_account(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    body: String,
) -> Response {
    let create = |actor, r: pb::AdminCreateAccountRequest| {
        gw.auth.admin_create_account(pb::AdminCreateAccountRequest {
            actor: Some(actor),
            ..r
        })
    };
    as_admin(&gw, client, &headers, &body, StatusCode::CREATED, create).await
}

pub(crate) async fn get_account(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    signed_in!(gw, headers, |c| {
        let r = pb::AdminTarget {
            actor: Some(actor(&c, client)),
            user_id: id,
        };
        reply(gw.auth.admin_get_account(r).await)
    })
}

pub(crate) async fn set_active(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    as_admin(
        &gw,
        client,
        &headers,
        &body,
        StatusCode::OK,
        |actor, r: pb::AdminSetActiveRequest| {
            gw.auth.admin_set_active(pb::AdminSetActiveRequest {
                actor: Some(actor),
                user_id: id,
                ..r
            })
        },
    )
    .await
}

pub(crate) async fn set_role(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    as_admin(
        &gw,
        client,
        &headers,
        &body,
        StatusCode::OK,
        |actor, r: pb::AdminSetRoleRequest| {
            gw.auth.admin_set_role(pb::AdminSetRoleRequest {
                actor: Some(actor),
                user_id: id,
                ..r
            })
        },
    )
    .await
}

pub(crate) async fn reset_password(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    no_content(
        as_admin(
            &gw,
            client,
            &headers,
            &body,
            StatusCode::OK,
            |actor, r: pb::AdminResetPasswordRequest| {
                gw.auth.admin_reset_password(pb::AdminResetPasswordRequest {
                    actor: Some(actor),
                    user_id: id,
                    ..r
                })
            },
        )
        .await,
    )
}

pub(crate) async fn end_sessions(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    no_content(
        as_admin(
            &gw,
            client,
            &headers,
            &body,
            StatusCode::OK,
            |actor, r: pb::AdminEndSessionsRequest| {
                gw.auth.admin_end_sessions(pb::AdminEndSessionsRequest {
                    actor: Some(actor),
                    user_id: id,
                    ..r
                })
            },
        )
        .await,
    )
}

pub(crate) async fn get_registration(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    signed_in!(gw, headers, |c| reply(
        gw.auth.admin_get_registration(actor(&c, client)).await
    ))
}

pub(crate) async fn set_registration(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    body: String,
) -> Response {
    let set = |actor, r: pb::AdminSetRegistrationRequest| {
        gw.auth
            .admin_set_registration(pb::AdminSetRegistrationRequest {
                actor: Some(actor),
                ..r
            })
    };
    as_admin(&gw, client, &headers, &body, StatusCode::OK, set).await
}

pub(crate) async fn list_invites(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    signed_in!(gw, headers, |c| reply(
        gw.auth.admin_list_invites(actor(&c, client)).await
    ))
}

pub(crate) async fn create_invite(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    body: String,
) -> Response {
    let create = |actor, r: pb::AdminCreateInviteRequest| {
        gw.auth.admin_create_invite(pb::AdminCreateInviteRequest {
            actor: Some(actor),
            ..r
        })
    };
    as_admin(&gw, client, &headers, &body, StatusCode::CREATED, create).await
}

pub(crate) async fn revoke_invite(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    signed_in!(gw, headers, |c| {
        let r = pb::AdminRevokeInviteRequest {
            actor: Some(actor(&c, client)),
            invite_id: id,
        };
        no_content(reply(gw.auth.admin_revoke_invite(r).await))
    })
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    limit: u32,
}

pub(crate) async fn audit_log(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    signed_in!(gw, headers, |c| {
        let r = pb::AdminAuditRequest {
            actor: Some(actor(&c, client)),
            after: q.after,
            limit: q.limit,
        };
        reply(gw.auth.admin_audit_log(r).await)
    })
}

/// The whole audit log (newest first, at most 100,000 entries) as JSON
/// lines, for an archive or a SIEM.
pub(crate) async fn audit_export(
    State(gw): State<Arc<Gateway>>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    signed_in!(gw, headers, |c| {
        let a = actor(&c, client);
        let mut out = String::new();
        let mut after = String::new();
        let mut n = 0;
        loop {
            let r = pb::AdminAuditRequest {
                actor: Some(a.clone()),
                after: after.clone(),
                limit: 500,
            };
            let page = match gw.auth.admin_audit_log(r).await {
                Ok(p) => p,
                Err(e) => return error_response(&e),
            };
            for e in &page.entries {
                out.push_str(&serde_json::to_string(e).unwrap_or_default());
                out.push('\n');
                n += 1;
            }
            if page.next.is_empty() || n >= MAX_AUDIT_EXPORT {
                break;
            }
            after = page.next;
        }
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/x-ndjson"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"parley-audit.jsonl\"",
                ),
            ],
            out,
        )
            .into_response()
    })
}
