//! What `parley admin` does straight on the auth store (the service need
//! not run, and no admin need exist yet: this is how an operator names the
//! first admin of a server whose accounts predate roles, or recovers from
//! having none). Each change is audited as made from the command line.

use crate::audit::{self, StoredEntry};
use crate::records::{self, AccountInfo};
use crate::registration::parse_mode;
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{AuthRecordKind, AuthStore};

const ACTOR: &str = "(command line)";

fn entry(action: &str, target_id: &str, target_username: &str, detail: String) -> StoredEntry {
    StoredEntry {
        at_ms: now_ms(),
        actor_username: ACTOR.into(),
        action: action.into(),
        target_id: target_id.into(),
        target_username: target_username.into(),
        detail,
        ..Default::default()
    }
}

/// Gives or takes the admin role of the account `username`.
pub async fn set_admin(store: &dyn AuthStore, username: &str, admin: bool) -> ServiceResult<()> {
    let user = store
        .user_by_name(username)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no account is named {username:?}")))?;
    let kind = AuthRecordKind::Account;
    let mut info: AccountInfo = records::get(store, kind, &user.id, "")
        .await?
        .unwrap_or_default();
    info.admin = admin;
    records::put(store, kind, &user.id, "", &info, None).await?;
    let role = if admin { "admin" } else { "user" };
    let e = entry(
        "account.role",
        &user.id,
        &user.username,
        format!("role={role}"),
    );
    audit::append(store, &e).await
}

/// Sets the registration mode (as an admin would on the admin page).
pub async fn set_registration(store: &dyn AuthStore, mode: &str) -> ServiceResult<()> {
    parse_mode(mode).map_err(ServiceError::InvalidArgument)?;
    store
        .put_record(
            AuthRecordKind::Setting,
            "",
            crate::registration::MODE_SETTING,
            mode.as_bytes(),
            None,
        )
        .await?;
    audit::append(
        store,
        &entry("registration.set", "", "", format!("mode={mode}")),
    )
    .await
}
