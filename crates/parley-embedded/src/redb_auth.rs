//! The embedded auth store on redb. Records are JSON.

use crate::db::{EmbeddedDb, be, open_or_empty};
use async_trait::async_trait;
use parley_core::time::now_ms;
use parley_ports::{
    AuthRecord, AuthRecordKind, AuthStore, FamilyRecord, RefreshRecord, RefreshUse,
    SigningKeyRecord, StoreError, StoreResult, UserRecord,
};
use redb::{ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const USERNAMES: TableDefinition<&str, &str> = TableDefinition::new("usernames");
const FAMILIES: TableDefinition<&str, &[u8]> = TableDefinition::new("session_families");
const REFRESH: TableDefinition<&str, &[u8]> = TableDefinition::new("refresh_tokens");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("signing_keys");
/// Small records: key `kind \0 scope \0 id`, value = expiry (ms since the
/// epoch, big-endian i64, 0 = never) then the record's bytes.
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("auth_records");

fn record_key(kind: AuthRecordKind, scope: &str, id: &str) -> String {
    format!("{:02}\0{scope}\0{id}", kind.number())
}

/// The record's bytes, unless it has expired (or is too short to be one).
fn live_value(stored: &[u8], now: i64) -> Option<&[u8]> {
    let (expiry, value) = stored.split_at_checked(8)?;
    let expiry = i64::from_be_bytes(expiry.try_into().ok()?);
    (expiry == 0 || expiry > now).then_some(value)
}

#[derive(Serialize, Deserialize)]
struct StoredRefresh {
    record: RefreshRecord,
    used: bool,
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("auth records serialize")
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Auth store on the embedded database.
#[derive(Debug, Clone)]
pub struct RedbAuthStore {
    db: EmbeddedDb,
}

impl RedbAuthStore {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }

    fn get<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> StoreResult<Option<T>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, table, None);
        t.get(key).map_err(be)?.map(|v| dec(v.value())).transpose()
    }

    async fn put(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: String,
        value: Vec<u8>,
    ) -> StoreResult<()> {
        self.db
            .write(move |txn| {
                txn.open_table(table)
                    .map_err(be)?
                    .insert(key.as_str(), value.as_slice())
                    .map_err(be)?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl AuthStore for RedbAuthStore {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        let user = user.clone();
        self.db
            .write(move |txn| {
                let mut names = txn.open_table(USERNAMES).map_err(be)?;
                if names.get(user.username.as_str()).map_err(be)?.is_some() {
                    return Err(StoreError::AlreadyExists(format!(
                        "username {}",
                        user.username
                    )));
                }
                names
                    .insert(user.username.as_str(), user.id.as_str())
                    .map_err(be)?;
                txn.open_table(USERS)
                    .map_err(be)?
                    .insert(user.id.as_str(), enc(&user).as_slice())
                    .map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let id = {
            let txn = self.db.read()?;
            let t = open_or_empty!(txn, USERNAMES, None);
            match t.get(username).map_err(be)? {
                Some(v) => v.value().to_string(),
                None => return Ok(None),
            }
        };
        self.get(USERS, &id)
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        self.get(USERS, id)
    }

    async fn create_family(&self, family: &FamilyRecord) -> StoreResult<()> {
        self.put(FAMILIES, family.id.clone(), enc(family)).await
    }

    async fn family(&self, id: &str) -> StoreResult<Option<FamilyRecord>> {
        self.get(FAMILIES, id)
    }

    async fn revoke_family(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(FAMILIES).map_err(be)?;
                let fam: Option<FamilyRecord> = t
                    .get(id.as_str())
                    .map_err(be)?
                    .map(|v| dec(v.value()))
                    .transpose()?;
                if let Some(mut fam) = fam {
                    fam.revoked = true;
                    t.insert(id.as_str(), enc(&fam).as_slice()).map_err(be)?;
                }
                Ok(())
            })
            .await
    }

    async fn put_refresh(&self, token: &RefreshRecord) -> StoreResult<()> {
        let row = StoredRefresh {
            record: token.clone(),
            used: false,
        };
        self.put(REFRESH, token.token_hash.clone(), enc(&row)).await
    }

    async fn use_refresh(&self, token_hash: &str) -> StoreResult<RefreshUse> {
        let hash = token_hash.to_string();
        // Serial writer: exactly one caller sees the token unused.
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(REFRESH).map_err(be)?;
                let row: Option<StoredRefresh> = t
                    .get(hash.as_str())
                    .map_err(be)?
                    .map(|v| dec(v.value()))
                    .transpose()?;
                Ok(match row {
                    None => RefreshUse::Unknown,
                    Some(r) if r.used => RefreshUse::Reused(r.record),
                    Some(mut r) => {
                        r.used = true;
                        t.insert(hash.as_str(), enc(&r).as_slice()).map_err(be)?;
                        RefreshUse::Fresh(r.record)
                    }
                })
            })
            .await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, KEYS, Vec::new());
        let mut out = Vec::new();
        for row in t.iter().map_err(be)? {
            out.push(dec(row.map_err(be)?.1.value())?);
        }
        Ok(out)
    }

    async fn put_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        self.put(KEYS, key.kid.clone(), enc(key)).await
    }

    async fn set_password_hash(&self, user_id: &str, password_hash: &str) -> StoreResult<()> {
        let (id, hash) = (user_id.to_string(), password_hash.to_string());
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(USERS).map_err(be)?;
                let user: Option<UserRecord> = t
                    .get(id.as_str())
                    .map_err(be)?
                    .map(|v| dec(v.value()))
                    .transpose()?;
                let Some(mut user) = user else {
                    return Err(StoreError::NotFound(format!("user {id}")));
                };
                user.password_hash = hash;
                t.insert(id.as_str(), enc(&user).as_slice()).map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn for_each_user(
        &self,
        f: &mut (dyn for<'n> FnMut(&'n str, &'n str) + Send),
    ) -> StoreResult<()> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, USERNAMES, ());
        for row in t.iter().map_err(be)? {
            let (name, id) = row.map_err(be)?;
            f(name.value(), id.value());
        }
        Ok(())
    }

    async fn for_each_family(
        &self,
        f: &mut (dyn for<'n> FnMut(&'n FamilyRecord) + Send),
    ) -> StoreResult<()> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, FAMILIES, ());
        for row in t.iter().map_err(be)? {
            let (_, v) = row.map_err(be)?;
            f(&dec::<FamilyRecord>(v.value())?);
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
        let expiry = ttl_secs.map_or(0, |s| now_ms() + i64::from(s) * 1000);
        let mut stored = expiry.to_be_bytes().to_vec();
        stored.extend_from_slice(value);
        self.put(RECORDS, record_key(kind, scope, id), stored).await
    }

    async fn record(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, RECORDS, None);
        let row = t.get(record_key(kind, scope, id).as_str()).map_err(be)?;
        Ok(row.and_then(|v| live_value(v.value(), now_ms()).map(<[u8]>::to_vec)))
    }

    async fn records(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AuthRecord>> {
        use std::ops::Bound;
        let prefix = record_key(kind, scope, "");
        let start = record_key(kind, scope, after);
        // Ids hold no NUL: every key of the scope sorts below this one.
        let end = format!("{:02}\0{scope}\u{1}", kind.number());
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, RECORDS, Vec::new());
        let now = now_ms();
        let mut out = Vec::new();
        let range = t
            .range::<&str>((
                Bound::Excluded(start.as_str()),
                Bound::Excluded(end.as_str()),
            ))
            .map_err(be)?;
        for row in range {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row.map_err(be)?;
            if let Some(value) = live_value(v.value(), now) {
                out.push(AuthRecord {
                    id: k.value()[prefix.len()..].to_string(),
                    value: value.to_vec(),
                });
            }
        }
        Ok(out)
    }

    async fn delete_record(&self, kind: AuthRecordKind, scope: &str, id: &str) -> StoreResult<()> {
        let key = record_key(kind, scope, id);
        self.db
            .write(move |txn| {
                txn.open_table(RECORDS)
                    .map_err(be)?
                    .remove(key.as_str())
                    .map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn purge_expired_records(&self, limit: usize) -> StoreResult<usize> {
        let now = now_ms();
        let expired: Vec<String> = {
            let txn = self.db.read()?;
            let t = open_or_empty!(txn, RECORDS, 0);
            let mut keys = Vec::new();
            for row in t.iter().map_err(be)? {
                let (k, v) = row.map_err(be)?;
                if live_value(v.value(), now).is_none() {
                    keys.push(k.value().to_string());
                    if keys.len() >= limit {
                        break;
                    }
                }
            }
            keys
        };
        let n = expired.len();
        if n > 0 {
            self.db
                .write(move |txn| {
                    let mut t = txn.open_table(RECORDS).map_err(be)?;
                    for k in &expired {
                        t.remove(k.as_str()).map_err(be)?;
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(n)
    }
}
