//! The connection's own session: a fresh token, and liveness.

use super::Ctx;
use parley_core::{ServiceError, ServiceResult};
use parley_jwt::TokenError;
use parley_proto::v1 as pb;
use pb::server_frame::Payload;

/// A live connection may present a fresh token for its own session.
pub(super) async fn authenticate(ctx: &Ctx<'_>, a: pb::Authenticate) -> ServiceResult<Payload> {
    let claims = match ctx.gw.tokens.verify(&a.access_token).await {
        Ok(c) => c,
        // Its own code, as on the first authenticate: refresh, then retry.
        Err(TokenError::Expired) => {
            return Ok(Payload::Error(pb::Error {
                code: "token_expired".into(),
                message: "access token expired".into(),
                retry_after_ms: 0,
            }));
        }
        Err(e) => return Err(ServiceError::Unauthenticated(e.to_string())),
    };
    if claims.sub != ctx.conn.user_id || claims.sid != ctx.conn.session_id {
        return Err(ServiceError::PermissionDenied(
            "a connection stays with its session".into(),
        ));
    }
    Ok(Payload::Authenticated(pb::Authenticated {
        user_id: claims.sub,
        session_id: claims.sid,
        expires_at_ms: (claims.exp as i64) * 1000,
        rate_limit_per_sec: ctx.gw.config.rate_per_sec,
    }))
}

pub(super) async fn ping(p: pb::Ping) -> ServiceResult<Payload> {
    Ok(Payload::Pong(pb::Pong { nonce: p.nonce }))
}
