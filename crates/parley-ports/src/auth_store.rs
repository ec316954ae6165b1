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
}
