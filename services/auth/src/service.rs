use crate::AuthConfig;
use crate::password_policy::{check_length, check_new};
use crate::passwords::Hasher;
use crate::tokens::{hash_token, new_refresh_token};
use async_trait::async_trait;
use parley_core::ids::{validate_id, validate_username};
use parley_core::services::AuthApi;
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_jwt::{Claims, SigningKey, jwks_json};
use parley_ports::{
    AuthStore, EventBus, FamilyRecord, Push, RefreshRecord, RefreshUse, SigningKeyRecord,
    StoreError, UserRecord,
};
use parley_proto::v1 as pb;
use std::sync::Arc;

/// Largest lookup of users in one call.
const MAX_LOOKUP: usize = 200;

pub struct AuthService {
    store: Arc<dyn AuthStore>,
    bus: Arc<dyn EventBus>,
    config: AuthConfig,
    hasher: Hasher,
    /// Every key still published in the JWKS; the newest signs.
    keys: Vec<SigningKey>,
}

/// The keys kept in the store, oldest first; creates the first one.
async fn stored_keys(store: &dyn AuthStore) -> ServiceResult<Vec<SigningKey>> {
    let mut records = store.signing_keys().await?;
    if records.is_empty() {
        let key = SigningKey::generate().map_err(ServiceError::Internal)?;
        let rec = SigningKeyRecord {
            kid: key.kid().to_string(),
            pkcs8_der: key.to_pkcs8().map_err(ServiceError::Internal)?,
            created_at_ms: now_ms(),
        };
        store.put_signing_key(&rec).await?;
        records.push(rec);
    }
    records.sort_by_key(|r| r.created_at_ms);
    records
        .iter()
        .map(|r| SigningKey::from_pkcs8(&r.kid, &r.pkcs8_der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServiceError::Internal)
}

impl AuthService {
    /// Loads the signing keys (from `signing_keys_dir`, or from the store,
    /// creating the first one there).
    pub async fn new(
        store: Arc<dyn AuthStore>,
        bus: Arc<dyn EventBus>,
        config: AuthConfig,
    ) -> ServiceResult<Self> {
        let keys = match &config.signing_keys_dir {
            Some(dir) => crate::key_files::load(dir)?,
            None => stored_keys(&*store).await?,
        };
        let hasher = Hasher::new(config.hash_permits(), config.hash_queue())?;
        Ok(Self {
            store,
            bus,
            config,
            hasher,
            keys,
        })
    }

    fn signing_key(&self) -> &SigningKey {
        self.keys.last().expect("at least one key is always loaded")
    }

    /// Issues an access token and a new refresh token of `family`.
    async fn issue(&self, user_id: &str, family: &str) -> ServiceResult<pb::TokenPair> {
        let now_s = (now_ms() / 1000) as u64;
        let exp = now_s + self.config.access_token_ttl_secs;
        let claims = Claims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: user_id.to_string(),
            sid: family.to_string(),
            iat: now_s,
            exp,
        };
        let access_token = self
            .signing_key()
            .sign(&claims)
            .map_err(ServiceError::Internal)?;
        let refresh_token = new_refresh_token()?;
        let record = RefreshRecord {
            token_hash: hash_token(&refresh_token),
            family_id: family.to_string(),
            user_id: user_id.to_string(),
            expires_at_ms: now_ms() + (self.config.refresh_token_ttl_secs as i64) * 1000,
        };
        self.store.put_refresh(&record).await?;
        Ok(pb::TokenPair {
            access_token,
            refresh_token,
            access_expires_at_ms: (exp as i64) * 1000,
            user_id: user_id.to_string(),
            session_id: family.to_string(),
        })
    }

    /// Revokes a session and closes its live connections everywhere.
    async fn revoke(&self, family: &str, user_id: &str) -> ServiceResult<()> {
        self.store.revoke_family(family).await?;
        let push = Push::CloseSession {
            session_id: family.to_string(),
        };
        if let Err(e) = self.bus.deliver(&[user_id.to_string()], push).await {
            // The session is revoked in the store either way; its access
            // tokens expire within their short lifetime.
            tracing::warn!(error = %e, "could not close a revoked session's connections");
        }
        metrics::counter!("parley_auth_sessions_revoked_total").increment(1);
        Ok(())
    }
}

fn bad_login() -> ServiceError {
    ServiceError::Unauthenticated("invalid username or password".into())
}

#[async_trait]
impl AuthApi for AuthService {
    async fn register(&self, req: pb::Credentials) -> ServiceResult<pb::User> {
        validate_username(&req.username)?;
        check_new(&req.password, &req.username, self.config.min_password_score)?;
        let password_hash = self.hasher.hash(req.password).await?;
        let user = UserRecord {
            id: uuid::Uuid::now_v7().to_string(),
            username: req.username,
            password_hash,
            created_at_ms: now_ms(),
        };
        match self.store.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                return Err(ServiceError::AlreadyExists("username is taken".into()));
            }
            Err(e) => return Err(e.into()),
        }
        metrics::counter!("parley_auth_registrations_total").increment(1);
        Ok(pb::User {
            id: user.id,
            username: user.username,
        })
    }

    async fn login(&self, req: pb::LoginRequest) -> ServiceResult<pb::TokenPair> {
        if validate_username(&req.username).is_err() || check_length(&req.password).is_err() {
            return Err(bad_login());
        }
        if req.device_name.chars().count() > 64 {
            return Err(ServiceError::InvalidArgument(
                "device_name is longer than 64 characters".into(),
            ));
        }
        let user = self.store.user_by_name(&req.username).await?;
        let ok = self
            .hasher
            .verify(req.password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let (true, Some(user)) = (ok, user) else {
            metrics::counter!("parley_auth_login_failures_total").increment(1);
            return Err(bad_login());
        };
        let family = FamilyRecord {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            device_name: req.device_name,
            created_at_ms: now_ms(),
            revoked: false,
        };
        self.store.create_family(&family).await?;
        self.issue(&user.id, &family.id).await
    }

    async fn refresh(&self, req: pb::RefreshRequest) -> ServiceResult<pb::TokenPair> {
        let invalid = || ServiceError::Unauthenticated("invalid refresh token".into());
        match self
            .store
            .use_refresh(&hash_token(&req.refresh_token))
            .await?
        {
            RefreshUse::Unknown => Err(invalid()),
            RefreshUse::Reused(rec) => {
                // A spent token came back: someone holds a copy. End the session.
                tracing::warn!(session = %rec.family_id, "refresh token reuse: revoking the session");
                self.revoke(&rec.family_id, &rec.user_id).await?;
                Err(ServiceError::Unauthenticated(
                    "refresh token reuse detected; the session is revoked".into(),
                ))
            }
            RefreshUse::Fresh(rec) => {
                let family = self
                    .store
                    .family(&rec.family_id)
                    .await?
                    .ok_or_else(invalid)?;
                if family.revoked {
                    return Err(ServiceError::Unauthenticated(
                        "the session was revoked".into(),
                    ));
                }
                if rec.expires_at_ms < now_ms() {
                    return Err(ServiceError::Unauthenticated(
                        "refresh token expired".into(),
                    ));
                }
                self.issue(&rec.user_id, &rec.family_id).await
            }
        }
    }

    async fn logout(&self, req: pb::RefreshRequest) -> ServiceResult<pb::Empty> {
        match self
            .store
            .use_refresh(&hash_token(&req.refresh_token))
            .await?
        {
            RefreshUse::Fresh(rec) | RefreshUse::Reused(rec) => {
                self.revoke(&rec.family_id, &rec.user_id).await?
            }
            RefreshUse::Unknown => {
                return Err(ServiceError::Unauthenticated(
                    "invalid refresh token".into(),
                ));
            }
        }
        Ok(pb::Empty {})
    }

    async fn jwks(&self, _: pb::Empty) -> ServiceResult<pb::JwksReply> {
        Ok(pb::JwksReply {
            json: jwks_json(&self.keys),
        })
    }

    async fn lookup_users(&self, req: pb::LookupUsersRequest) -> ServiceResult<pb::UsersList> {
        if req.usernames.len() + req.user_ids.len() > MAX_LOOKUP {
            return Err(ServiceError::InvalidArgument(format!(
                "at most {MAX_LOOKUP} users per lookup"
            )));
        }
        let mut users = Vec::new();
        for name in &req.usernames {
            if validate_username(name).is_ok()
                && let Some(u) = self.store.user_by_name(name).await?
            {
                users.push(pb::User {
                    id: u.id,
                    username: u.username,
                });
            }
        }
        for id in &req.user_ids {
            validate_id("user_id", id)?;
            if let Some(u) = self.store.user_by_id(id).await? {
                users.push(pb::User {
                    id: u.id,
                    username: u.username,
                });
            }
        }
        Ok(pb::UsersList { users })
    }
}
