//! Accounts beyond their credentials: role and state, the username
//! directory admins list and search, and who becomes the first admin.

use crate::AuthService;
use crate::records::{self, AccountInfo};
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{AuthRecordKind, UserRecord};
use parley_proto::v1 as pb;

/// Setting: the directory holds every account (set once backfilled).
const DIRECTORY_READY: &str = "directory_v1";
/// Setting: the first-admin rule has been used (by whom, or why not).
const ADMIN_CLAIMED: &str = "first_admin";
/// Most accounts per listed page.
const MAX_PAGE: usize = 200;

/// The directory's scopes in byte order: every first character a
/// username may have.
const SCOPES: &str = "-0123456789_abcdefghijklmnopqrstuvwxyz";

fn scope_of(username: &str) -> String {
    username
        .chars()
        .next()
        .map(String::from)
        .unwrap_or_default()
}

/// Trimmed, at most `max` characters, no control characters (a name must
/// not carry line breaks or direction overrides into others' screens).
fn clean_profile_text(field: &str, text: &str, max: usize) -> ServiceResult<String> {
    let t = text.trim();
    if t.chars().count() > max {
        return Err(ServiceError::InvalidArgument(format!(
            "{field} is longer than {max} characters"
        )));
    }
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if t.chars().any(|c| c.is_control() || bidi(c)) {
        return Err(ServiceError::InvalidArgument(format!(
            "{field} may not contain control or text-direction characters"
        )));
    }
    Ok(t.to_string())
}

impl AuthService {
    pub(crate) async fn account_info(&self, user_id: &str) -> ServiceResult<AccountInfo> {
        Ok(
            records::get(&*self.store, AuthRecordKind::Account, user_id, "")
                .await?
                .unwrap_or_default(),
        )
    }

    pub(crate) async fn put_account_info(
        &self,
        user_id: &str,
        info: &AccountInfo,
    ) -> ServiceResult<()> {
        records::put(
            &*self.store,
            AuthRecordKind::Account,
            user_id,
            "",
            info,
            None,
        )
        .await
    }

    pub(crate) async fn user(&self, user_id: &str) -> ServiceResult<UserRecord> {
        parley_core::ids::validate_id("user_id", user_id)?;
        self.store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("no such account".into()))
    }

    pub(crate) async fn account(&self, user: &UserRecord) -> ServiceResult<pb::Account> {
        let info = self.account_info(&user.id).await?;
        Ok(pb::Account {
            user_id: user.id.clone(),
            username: user.username.clone(),
            role: if info.admin {
                pb::AccountRole::Admin
            } else {
                pb::AccountRole::User
            } as i32,
            created_at_ms: user.created_at_ms,
            deactivated_at_ms: info.deactivated_at_ms,
            display_name: info.display_name,
            status_text: info.status_text,
        })
    }

    /// A user as others see them: names and status.
    pub(crate) async fn public_user(&self, user: UserRecord) -> ServiceResult<pb::User> {
        let info = self.account_info(&user.id).await?;
        Ok(pb::User {
            id: user.id,
            username: user.username,
            display_name: info.display_name,
            status_text: info.status_text,
        })
    }

    /// Sets one's display name and status line.
    pub(crate) async fn set_profile(
        &self,
        req: pb::UpdateProfileRequest,
    ) -> ServiceResult<pb::Account> {
        let user = self.user(&req.user_id).await?;
        let display_name = clean_profile_text("display_name", &req.display_name, 64)?;
        let status_text = clean_profile_text("status_text", &req.status_text, 140)?;
        let mut info = self.account_info(&user.id).await?;
        info.display_name = display_name;
        info.status_text = status_text;
        self.put_account_info(&user.id, &info).await?;
        self.account(&user).await
    }

    /// Files a new account in the directory; the very first account of a
    /// new server becomes its admin.
    pub(crate) async fn on_account_created(&self, user: &UserRecord) -> ServiceResult<bool> {
        let store = &*self.store;
        store
            .put_record(
                AuthRecordKind::Directory,
                &scope_of(&user.username),
                &user.username,
                user.id.as_bytes(),
                None,
            )
            .await?;
        let _one_at_a_time = self.first_admin.lock().await;
        let claimed = store
            .record(AuthRecordKind::Setting, "", ADMIN_CLAIMED)
            .await?;
        if claimed.is_some() {
            return Ok(false);
        }
        self.put_account_info(
            &user.id,
            &AccountInfo {
                admin: true,
                ..Default::default()
            },
        )
        .await?;
        store
            .put_record(
                AuthRecordKind::Setting,
                "",
                ADMIN_CLAIMED,
                user.id.as_bytes(),
                None,
            )
            .await?;
        tracing::info!(user = %user.username, "the first account is the admin");
        Ok(true)
    }

    /// Once per store: files the accounts that existed before the directory
    /// did, and, if there were any, turns the first-admin rule off (an
    /// existing server's next stranger must not become its admin; the
    /// operator names admins with `parley admin grant`).
    pub(crate) async fn backfill_directory(&self) -> ServiceResult<()> {
        let store = &*self.store;
        if store
            .record(AuthRecordKind::Setting, "", DIRECTORY_READY)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let mut accounts = Vec::new();
        store
            .for_each_user(&mut |name, id| accounts.push((name.to_string(), id.to_string())))
            .await?;
        for (name, id) in &accounts {
            store
                .put_record(
                    AuthRecordKind::Directory,
                    &scope_of(name),
                    name,
                    id.as_bytes(),
                    None,
                )
                .await?;
        }
        if !accounts.is_empty()
            && store
                .record(AuthRecordKind::Setting, "", ADMIN_CLAIMED)
                .await?
                .is_none()
        {
            store
                .put_record(
                    AuthRecordKind::Setting,
                    "",
                    ADMIN_CLAIMED,
                    b"accounts existed before roles did",
                    None,
                )
                .await?;
        }
        store
            .put_record(
                AuthRecordKind::Setting,
                "",
                DIRECTORY_READY,
                now_ms().to_string().as_bytes(),
                None,
            )
            .await?;
        tracing::info!(accounts = accounts.len(), "user directory backfilled");
        Ok(())
    }

    /// A page of accounts in username order, optionally by prefix.
    pub(crate) async fn list_accounts(
        &self,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> ServiceResult<pb::AccountList> {
        let limit = match limit as usize {
            0 => 50,
            n => n.min(MAX_PAGE),
        };
        if !prefix.is_empty() && !prefix.bytes().all(|b| SCOPES.as_bytes().contains(&b)) {
            return Ok(pb::AccountList::default());
        }
        let store = &*self.store;
        let mut ids: Vec<(String, String)> = Vec::new();
        // An exact match first: the range below starts after its bound.
        let mut cursor = after.to_string();
        if cursor.as_str() < prefix {
            if let Some(id) = store
                .record(AuthRecordKind::Directory, &scope_of(prefix), prefix)
                .await?
            {
                ids.push((
                    prefix.to_string(),
                    String::from_utf8_lossy(&id).into_owned(),
                ));
            }
            cursor = prefix.to_string();
        }
        let first_scope = scope_of(&cursor);
        let scopes: Vec<String> = SCOPES
            .chars()
            .map(String::from)
            .filter(|s| *s >= first_scope)
            .filter(|s| prefix.is_empty() || *s == scope_of(prefix))
            .collect();
        'scopes: for scope in scopes {
            let after_here = if cursor.starts_with(&scope) {
                cursor.as_str()
            } else {
                ""
            };
            let rows = store
                .records(
                    AuthRecordKind::Directory,
                    &scope,
                    after_here,
                    limit + 1 - ids.len(),
                )
                .await?;
            for r in rows {
                if !r.id.starts_with(prefix) {
                    break 'scopes;
                }
                ids.push((r.id, String::from_utf8_lossy(&r.value).into_owned()));
                if ids.len() > limit {
                    break 'scopes;
                }
            }
        }
        let next = if ids.len() > limit {
            ids.truncate(limit);
            ids.last().map(|(name, _)| name.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let mut accounts = Vec::with_capacity(ids.len());
        for (_, id) in ids {
            if let Some(user) = store.user_by_id(&id).await? {
                accounts.push(self.account(&user).await?);
            }
        }
        Ok(pb::AccountList { accounts, next })
    }
}
