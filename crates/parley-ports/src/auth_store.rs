use crate::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub created_at_ms: i64,
}

/// One device session: every refresh token it ever had belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyRecord {
    pub id: String,
    pub user_id: String,
    pub device_name: String,
    pub created_at_ms: i64,
    pub revoked: bool,
}

/// A refresh token, stored by the SHA-256 of its value (never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub family_id: String,
    pub user_id: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// PKCS#8 DER of an Ed25519 private key.
    pub pkcs8_der: Vec<u8>,
    pub created_at_ms: i64,
}

/// Outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// First use: the token is now spent.
    Fresh(RefreshRecord),
    /// The token had been spent before: a replay.
    Reused(RefreshRecord),
    Unknown,
}

/// The namespaces of the auth store's small records: each record is a
/// value under (kind, scope, id), listed by scope in id order. What the
/// values mean is the auth service's business; a store only keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthRecordKind {
    /// A device session's details (scope: user id, id: session id).
    Session = 1,
    /// An account's role, state and profile (scope: user id, id: "").
    Account = 2,
    /// The admin audit log (scope: "", id ascending = newest first).
    Audit = 3,
    /// Revoked sessions by time (scope: a time bucket, id: time + session).
    Revocation = 4,
    /// Registration invite codes (scope: "", id: hash of the code).
    Invite = 5,
    /// Server-wide settings changed at run time (scope: "", id: name).
    Setting = 6,
    /// Usernames by first character, for listing and prefix search
    /// (scope: first character, id: username, value: user id).
    Directory = 7,
    /// A single sign-on in progress (scope: "", id: hash of its state).
    OidcState = 8,
    /// A one-time sign-in ticket (scope: "", id: hash of the ticket).
    OidcTicket = 9,
    /// The account linked to an external identity (scope: issuer, id:
    /// subject, value: user id).
    OidcLink = 10,
}

impl AuthRecordKind {
    pub fn number(self) -> i32 {
        self as i32
    }
}

/// One record as listed: its id and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRecord {
    pub id: String,
    pub value: Vec<u8>,
}

/// Accounts, sessions, refresh tokens and signing keys.
#[async_trait]
pub trait AuthStore: Send + Sync + 'static {
    /// `AlreadyExists` when the username is taken.
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>>;

    async fn create_family(&self, family: &FamilyRecord) -> StoreResult<()>;
    async fn family(&self, id: &str) -> StoreResult<Option<FamilyRecord>>;
    async fn revoke_family(&self, id: &str) -> StoreResult<()>;

    async fn put_refresh(&self, token: &RefreshRecord) -> StoreResult<()>;
    /// Atomically spends a refresh token: exactly one caller ever gets `Fresh`.
    async fn use_refresh(&self, token_hash: &str) -> StoreResult<RefreshUse>;

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    async fn put_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;

    /// Replaces an account's password hash (`NotFound` for no such user).
    async fn set_password_hash(&self, user_id: &str, password_hash: &str) -> StoreResult<()>;
    /// Calls `f(username, user_id)` for every account, in no promised
    /// order, a page at a time (one-off backfills; not for requests).
    async fn for_each_user(
        &self,
        f: &mut (dyn for<'n> FnMut(&'n str, &'n str) + Send),
    ) -> StoreResult<()>;

    /// Calls `f` for every session family, in no promised order, a page at
    /// a time (one-off backfills; not for requests).
    async fn for_each_family(
        &self,
        f: &mut (dyn for<'n> FnMut(&'n FamilyRecord) + Send),
    ) -> StoreResult<()>;

    /// Writes a record; with `ttl_secs` it disappears after that long.
    async fn put_record(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        id: &str,
        value: &[u8],
        ttl_secs: Option<u32>,
    ) -> StoreResult<()>;
    async fn record(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        id: &str,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Up to `limit` records of a scope with id > `after`, in id order
    /// (byte order), expired ones left out.
    async fn records(
        &self,
        kind: AuthRecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AuthRecord>>;
    async fn delete_record(&self, kind: AuthRecordKind, scope: &str, id: &str) -> StoreResult<()>;
    /// Removes up to `limit` expired records where the backend does not
    /// expire them itself; returns how many went.
    async fn purge_expired_records(&self, _limit: usize) -> StoreResult<usize> {
        Ok(0)
    }
}
