//! Accounts as other users see them.

use super::{Ctx, MAX_USERS_PER_REQUEST};
use parley_core::ids::validate_id;
use parley_core::services::AuthApi;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use pb::server_frame::Payload;
use std::collections::HashSet;

pub(super) async fn lookup_users(ctx: &Ctx<'_>, l: pb::LookupUsers) -> ServiceResult<Payload> {
    let req = pb::LookupUsersRequest {
        usernames: l.usernames,
        user_ids: l.user_ids,
    };
    Ok(Payload::Users(pb::UsersReply {
        users: ctx.gw.auth.lookup_users(req).await?.users,
    }))
}

/// Refuses requests that name users who do not exist.
pub(super) async fn require_users(ctx: &Ctx<'_>, ids: &[String]) -> ServiceResult<()> {
    if ids.len() > MAX_USERS_PER_REQUEST {
        return Err(ServiceError::InvalidArgument(format!(
            "at most {MAX_USERS_PER_REQUEST} users per request"
        )));
    }
    for id in ids {
        validate_id("user_id", id)?;
    }
    let wanted: HashSet<&String> = ids.iter().collect();
    let found = ctx
        .gw
        .auth
        .lookup_users(pb::LookupUsersRequest {
            usernames: vec![],
            user_ids: ids.to_vec(),
        })
        .await?
        .users;
    let found: HashSet<&String> = found.iter().map(|u| &u.id).collect();
    if let Some(missing) = wanted.iter().find(|u| !found.contains(**u)) {
        return Err(ServiceError::NotFound(format!("user {missing}")));
    }
    Ok(())
}
