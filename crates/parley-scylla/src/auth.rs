//! The auth store on ScyllaDB: accounts, device sessions, refresh tokens
//! and signing keys.

use crate::ScyllaError;
use crate::lwt::{Lwt, applied};
use crate::session::ScyllaSession;
use async_trait::async_trait;
use parley_ports::{
    AuthRecord, AuthRecordKind, AuthStore, FamilyRecord, RefreshRecord, RefreshUse,
    SigningKeyRecord, StoreError, StoreResult, UserRecord,
};
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use std::sync::Arc;

/// A refresh-token row outlives its token by this long, so that a replay of
/// a recently expired, already spent token is still recognised as reuse.
const REFRESH_GRACE_SECS: i64 = 7 * 86_400;

/// Auth records share the `records` table with the timeline's, under kind
/// numbers of their own (the timeline's start at 1 and stay below this).
const AUTH_KIND_BASE: i32 = 100;

fn kind_code(kind: AuthRecordKind) -> i32 {
    AUTH_KIND_BASE + kind.number()
}

pub struct ScyllaAuthStore {
    s: Arc<ScyllaSession>,
}

type UserRow = (String, Option<String>, Option<String>, Option<i64>);
type FamilyRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<bool>,
);
type RefreshRow = (String, Option<String>, Option<String>, Option<i64>);

fn user_from_row((id, username, hash, at): UserRow) -> UserRecord {
    UserRecord {
        id,
        username: username.unwrap_or_default(),
        password_hash: hash.unwrap_or_default(),
        created_at_ms: at.unwrap_or_default(),
    }
}

fn family_from_row((id, user, device, at, revoked): FamilyRow) -> FamilyRecord {
    FamilyRecord {
        id,
        user_id: user.unwrap_or_default(),
        device_name: device.unwrap_or_default(),
        created_at_ms: at.unwrap_or_default(),
        revoked: revoked.unwrap_or(false),
    }
}

fn refresh_from_row((hash, family, user, expires): RefreshRow) -> RefreshRecord {
    RefreshRecord {
        token_hash: hash,
        family_id: family.unwrap_or_default(),
        user_id: user.unwrap_or_default(),
        expires_at_ms: expires.unwrap_or_default(),
    }
}

/// Seconds a refresh-token row lives: until the token expires, plus grace.
pub fn refresh_ttl_secs(expires_at_ms: i64, now_ms: i64) -> i32 {
    let left = (expires_at_ms - now_ms).max(0) / 1000;
    i32::try_from(left + REFRESH_GRACE_SECS).unwrap_or(i32::MAX)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ScyllaAuthStore {
    pub fn new(session: Arc<ScyllaSession>) -> Self {
        Self { s: session }
    }

    async fn run(&self, stmt: &PreparedStatement, values: impl SerializeRow) -> StoreResult<()> {
        self.s
            .session
            .execute_unpaged(stmt, values)
            .await
            .map_err(ScyllaError::from)?;
        Ok(())
    }
}

#[async_trait]
impl AuthStore for ScyllaAuthStore {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        let p = &self.s.prepared;
        // Claim the name first: only its winner writes the account.
        let claim = self
            .s
            .session
            .execute_unpaged(&p.CLAIM_USERNAME, (&user.username, &user.id))
            .await
            .map_err(ScyllaError::from)?;
        if let Lwt::NotApplied(current) = applied(claim)? {
            // A retry of our own claim (the reply was lost) may go on.
            let owner = current.get("user_id").and_then(|v| v.as_text());
            if owner != Some(&user.id) {
                return Err(StoreError::AlreadyExists(format!(
                    "username {}",
                    user.username
                )));
            }
        }
        self.run(
            &p.INSERT_USER,
            (
                &user.id,
                &user.username,
                &user.password_hash,
                user.created_at_ms,
            ),
        )
        .await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let id: Option<(Option<String>,)> = self
            .s
            .first(&self.s.prepared.SELECT_USERNAME, (username,))
            .await?;
        match id.and_then(|(id,)| id) {
            // A claim whose account write failed is no account.
            Some(id) => self.user_by_id(&id).await,
            None => Ok(None),
        }
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        let row: Option<UserRow> = self.s.first(&self.s.prepared.SELECT_USER, (id,)).await?;
        Ok(row.map(user_from_row))
    }

    async fn create_family(&self, f: &FamilyRecord) -> StoreResult<()> {
        self.run(
            &self.s.prepared.INSERT_FAMILY,
            (
                &f.id,
                &f.user_id,
                &f.device_name,
                f.created_at_ms,
                f.revoked,
            ),
        )
        .await
    }

    async fn family(&self, id: &str) -> StoreResult<Option<FamilyRecord>> {
        let row: Option<FamilyRow> = self.s.first(&self.s.prepared.SELECT_FAMILY, (id,)).await?;
        Ok(row.map(family_from_row))
    }

    async fn revoke_family(&self, id: &str) -> StoreResult<()> {
        self.run(&self.s.prepared.REVOKE_FAMILY, (true, id)).await
    }

    async fn put_refresh(&self, t: &RefreshRecord) -> StoreResult<()> {
        let result = self
            .s
            .session
            .execute_unpaged(
                &self.s.prepared.INSERT_REFRESH,
                (
                    &t.token_hash,
                    &t.family_id,
                    &t.user_id,
                    t.expires_at_ms,
                    false,
                    refresh_ttl_secs(t.expires_at_ms, now_ms()),
                ),
            )
            .await
            .map_err(ScyllaError::from)?;
        match applied(result)? {
            Lwt::Applied => Ok(()),
            Lwt::NotApplied(_) => Err(StoreError::AlreadyExists("refresh token".into())),
        }
    }

    async fn use_refresh(&self, token_hash: &str) -> StoreResult<RefreshUse> {
        let p = &self.s.prepared;
        let row: Option<RefreshRow> = self.s.first(&p.SELECT_REFRESH, (token_hash,)).await?;
        let Some(record) = row.map(refresh_from_row) else {
            return Ok(RefreshUse::Unknown);
        };
        // Spending is a compare-and-set: exactly one caller sees it applied.
        let spent = self
            .s
            .session
            .execute_unpaged(
                &p.SPEND_REFRESH,
                (refresh_ttl_secs(record.expires_at_ms, now_ms()), token_hash),
            )
            .await
            .map_err(ScyllaError::from)?;
        Ok(match applied(spent)? {
            Lwt::Applied => RefreshUse::Fresh(record),
            Lwt::NotApplied(_) => RefreshUse::Reused(record),
        })
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows: Vec<(String, Option<Vec<u8>>, Option<i64>)> = self
            .s
            .rows(&self.s.prepared.SELECT_SIGNING_KEYS, ())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(kid, der, at)| SigningKeyRecord {
                kid,
                pkcs8_der: der.unwrap_or_default(),
                created_at_ms: at.unwrap_or_default(),
            })
            .collect())
    }

    async fn put_signing_key(&self, k: &SigningKeyRecord) -> StoreResult<()> {
        self.run(
            &self.s.prepared.INSERT_SIGNING_KEY,
            (&k.kid, &k.pkcs8_der, k.created_at_ms),
        )
        .await
    }

    async fn set_password_hash(&self, user_id: &str, password_hash: &str) -> StoreResult<()> {
        // An UPDATE would create a row for an unknown id: look first.
        if self.user_by_id(user_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        self.run(&self.s.prepared.SET_PASSWORD_HASH, (password_hash, user_id))
            .await
    }

    async fn for_each_user(
        &self,
        f: &mut (dyn for<'n> FnMut(&'n str, &'n str) + Send),
    ) -> StoreResult<()> {
        use futures::TryStreamExt;
        let pager = self
            .s
            .session
            .execute_iter(self.s.prepared.SELECT_ALL_USERNAMES.clone(), ())
            .await
            .map_err(ScyllaError::from)?;
        let mut rows = pager
            .rows_stream::<(String, Option<String>)>()
            .map_err(|e| ScyllaError::Decode(e.to_string()))?;
        while let Some((name, id)) = rows.try_next().await.map_err(ScyllaError::from)? {
            if let Some(id) = id {
                f(&name, &id);
            }
        }
        Ok(())
    }

    async fn for_each_family(
        &self,
        f: &mut (dyn for<'n> FnMut(&'n FamilyRecord) + Send),
    ) -> StoreResult<()> {
        use futures::TryStreamExt;
        let pager = self
            .s
            .session
            .execute_iter(self.s.prepared.SELECT_ALL_FAMILIES.clone(), ())
            .await
            .map_err(ScyllaError::from)?;
        let mut rows = pager
            .rows_stream::<FamilyRow>()
            .map_err(|e| ScyllaError::Decode(e.to_string()))?;
        while let Some(row) = rows.try_next().await.map_err(ScyllaError::from)? {
            f(&family_from_row(row));
        }
        Ok(())
    }

    async fn put_record(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        id: &str,
        value: &[u8],
        ttl_secs: Option<u32>,
    ) -> StoreResult<()> {
        let p = &self.s.prepared;
        match ttl_secs {
            None => {
                self.run(&p.PUT_RECORD, (kind_code(kind), scope, id, value))
                    .await
            }
            Some(ttl) => {
                let ttl = i32::try_from(ttl).unwrap_or(i32::MAX).max(1);
                self.run(&p.PUT_RECORD_TTL, (kind_code(kind), scope, id, value, ttl))
                    .await
            }
        }
    }

    async fn record(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        let row: Option<(Option<Vec<u8>>,)> = self
            .s
            .first(&self.s.prepared.SELECT_RECORD, (kind_code(kind), scope, id))
            .await?;
        Ok(row.map(|(v,)| v.unwrap_or_default()))
    }

    async fn records(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AuthRecord>> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let rows: Vec<(String, Option<Vec<u8>>)> = self
            .s
            .rows(
                &self.s.prepared.SELECT_RECORDS,
                (kind_code(kind), scope, after, limit),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, v)| AuthRecord {
                id,
                value: v.unwrap_or_default(),
            })
            .collect())
    }

    async fn delete_record(&self, kind: AuthRecordKind, scope: &str, id: &str) -> StoreResult<()> {
        self.run(&self.s.prepared.DELETE_RECORD, (kind_code(kind), scope, id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_rows_outlive_their_token_by_the_grace() {
        assert_eq!(refresh_ttl_secs(10_000, 0), 10 + REFRESH_GRACE_SECS as i32);
        assert_eq!(
            refresh_ttl_secs(0, 10_000),
            REFRESH_GRACE_SECS as i32,
            "an expired token's row still lives for the grace"
        );
        assert_eq!(refresh_ttl_secs(i64::MAX, 0), i32::MAX);
    }

    #[test]
    fn rows_with_nulls_map_to_defaults() {
        let u = user_from_row(("id".into(), None, None, None));
        assert_eq!((u.id.as_str(), u.username.as_str()), ("id", ""));
        let f = family_from_row(("f".into(), Some("u".into()), None, Some(3), None));
        assert!(!f.revoked);
        assert_eq!(f.created_at_ms, 3);
        let r = refresh_from_row(("h".into(), Some("f".into()), Some("u".into()), Some(9)));
        assert_eq!(r.expires_at_ms, 9);
    }
}
