use crate::AuthConfig;
use crate::audit::AuditChange;
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
    AuthStore, EventBus, FamilyRecord, RefreshRecord, RefreshUse, SigningKeyRecord,
};
use parley_proto::v1 as pb;
use std::sync::Arc;

/// Largest lookup of users in one call.
const MAX_LOOKUP: usize = 200;

pub struct AuthService {
    pub(crate) store: Arc<dyn AuthStore>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) config: AuthConfig,
    pub(crate) hasher: Hasher,
    /// Every key still published in the JWKS; the newest signs.
    keys: Vec<SigningKey>,
    /// Serialises the first-admin check of new accounts.
    pub(crate) first_admin: tokio::sync::Mutex<()>,
    /// Serialises spending invite codes (and single-use sign-in records).
    pub(crate) invites: tokio::sync::Mutex<()>,
    /// Single sign-on providers' discovered metadata.
    pub(crate) discovery: crate::oidc::Discovery,
    /// Serialises linking identities to accounts.
    pub(crate) sso_links: tokio::sync::Mutex<()>,
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
        config.check().map_err(ServiceError::InvalidArgument)?;
        let hasher = Hasher::new(config.hash_permits(), config.hash_queue())?;
        let service = Self {
            store,
            bus,
            config,
            hasher,
            keys,
            first_admin: Default::default(),
            invites: Default::default(),
            discovery: Default::default(),
            sso_links: Default::default(),
        };
        service.backfill_directory().await?;
        service.backfill_sessions().await?;
        spawn_purge(Arc::downgrade(&service.store));
        Ok(service)
    }

    /// A new device session of `user_id` and its first tokens.
    pub(crate) async fn new_session(
        &self,
        user_id: &str,
        device_name: &str,
        client: Option<&pb::ClientInfo>,
    ) -> ServiceResult<pb::TokenPair> {
        let family = FamilyRecord {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_string(),
            device_name: device_name.to_string(),
            created_at_ms: now_ms(),
            revoked: false,
        };
        self.store.create_family(&family).await?;
        self.start_session(user_id, &family.id, device_name, client)
            .await?;
        self.issue(user_id, &family.id).await
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
            username: String::new(),
        })
    }
}

/// Every hour, removes expired records where the store does not expire
/// them itself (the embedded one); ends when the service is dropped.
fn spawn_purge(store: std::sync::Weak<dyn AuthStore>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
    const BATCH: usize = 10_000;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            let Some(store) = store.upgrade() else { return };
            loop {
                match store.purge_expired_records(BATCH).await {
                    Ok(n) if n >= BATCH => continue,
                    Ok(n) => {
                        tracing::debug!(records = n, "auth: expired records purged");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "auth: purging expired records failed");
                        break;
                    }
                }
            }
        }
    });
}

fn bad_login() -> ServiceError {
    ServiceError::Unauthenticated("invalid username or password".into())
}

#[async_trait]
impl AuthApi for AuthService {
    async fn register(&self, req: pb::Credentials) -> ServiceResult<pb::User> {
        validate_username(&req.username)?;
        check_new(&req.password, &req.username, self.config.min_password_score)?;
        self.admit_registration(&req.invite_code).await?;
        let user = self
            .create_account(req.username, req.password, false)
            .await?;
        Ok(pb::User {
            id: user.id,
            username: user.username,
            ..Default::default()
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
            .verify(
                req.password,
                // An account from single sign-on has no password.
                user.as_ref()
                    .map(|u| u.password_hash.clone())
                    .filter(|h| !h.is_empty()),
            )
            .await?;
        let (true, Some(user)) = (ok, user) else {
            metrics::counter!("parley_auth_login_failures_total").increment(1);
            return Err(bad_login());
        };
        // Said only to whoever knows the password.
        let info = self.account_info(&user.id).await?;
        if info.deactivated_at_ms != 0 {
            return Err(ServiceError::PermissionDenied(
                "this account is deactivated".into(),
            ));
        }
        if !info.admin && self.mode().await? == pb::RegistrationMode::SsoOnly {
            return Err(ServiceError::PermissionDenied(
                "password sign-in is disabled: use single sign-on".into(),
            ));
        }
        let mut pair = self
            .new_session(&user.id, &req.device_name, req.client.as_ref())
            .await?;
        pair.username = user.username;
        Ok(pair)
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
                if self.account_info(&rec.user_id).await?.deactivated_at_ms != 0 {
                    self.revoke(&rec.family_id, &rec.user_id).await?;
                    return Err(ServiceError::Unauthenticated(
                        "this account is deactivated".into(),
                    ));
                }
                self.touch_session(&family, req.client.as_ref()).await?;
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
                users.push(self.public_user(u).await?);
            }
        }
        for id in &req.user_ids {
            validate_id("user_id", id)?;
            if let Some(u) = self.store.user_by_id(id).await? {
                users.push(self.public_user(u).await?);
            }
        }
        Ok(pb::UsersList { users })
    }

    async fn revoked_sessions(
        &self,
        req: pb::RevokedSince,
    ) -> ServiceResult<pb::RevokedSessionList> {
        self.revoked_since(req.since_ms).await
    }

    async fn registration(&self, _: pb::Empty) -> ServiceResult<pb::RegistrationSettings> {
        Ok(pb::RegistrationSettings {
            mode: self.mode().await? as i32,
            set_by_admin: false,
        })
    }

    async fn oidc_providers(&self, _: pb::Empty) -> ServiceResult<pb::OidcProviderList> {
        Ok(self.oidc_provider_list())
    }

    async fn oidc_start(&self, req: pb::OidcStartRequest) -> ServiceResult<pb::OidcStartReply> {
        self.oidc_start_impl(req).await
    }

    async fn oidc_finish(&self, req: pb::OidcFinishRequest) -> ServiceResult<pb::OidcTicket> {
        self.oidc_finish_impl(req).await
    }

    async fn oidc_redeem(&self, req: pb::OidcTicket) -> ServiceResult<pb::TokenPair> {
        self.oidc_redeem_impl(req).await
    }

    async fn get_account(&self, req: pb::AccountRef) -> ServiceResult<pb::Account> {
        let user = self.user(&req.user_id).await?;
        self.account(&user).await
    }

    async fn list_sessions(&self, req: pb::AccountRef) -> ServiceResult<pb::SessionList> {
        validate_id("user_id", &req.user_id)?;
        Ok(pb::SessionList {
            sessions: self.sessions_of(&req.user_id, &req.session_id).await?,
        })
    }

    async fn end_sessions(&self, req: pb::EndSessionsRequest) -> ServiceResult<pb::Empty> {
        validate_id("user_id", &req.user_id)?;
        if req.all_others {
            self.revoke_all(&req.user_id, Some(&req.session_id)).await?;
        }
        self.revoke_listed(&req.user_id, &req.session_ids).await?;
        Ok(pb::Empty {})
    }

    async fn change_password(&self, req: pb::ChangePasswordRequest) -> ServiceResult<pb::Empty> {
        let user = self.user(&req.user_id).await?;
        let ok = check_length(&req.old_password).is_ok()
            && self
                .hasher
                .verify(
                    req.old_password,
                    Some(user.password_hash.clone()).filter(|h| !h.is_empty()),
                )
                .await?;
        if !ok {
            return Err(ServiceError::PermissionDenied(
                "the current password is wrong".into(),
            ));
        }
        check_new(
            &req.new_password,
            &user.username,
            self.config.min_password_score,
        )?;
        let hash = self.hasher.hash(req.new_password).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        // Whoever knew the old password is signed out everywhere else.
        self.revoke_all(&user.id, Some(&req.session_id)).await?;
        Ok(pb::Empty {})
    }

    async fn update_profile(&self, req: pb::UpdateProfileRequest) -> ServiceResult<pb::Account> {
        self.set_profile(req).await
    }

    async fn admin_list_accounts(
        &self,
        req: pb::AdminListAccountsRequest,
    ) -> ServiceResult<pb::AccountList> {
        self.require_admin(req.actor).await?;
        self.list_accounts(&req.prefix, &req.after, req.limit).await
    }

    async fn admin_get_account(&self, req: pb::AdminTarget) -> ServiceResult<pb::AccountDetail> {
        self.require_admin(req.actor).await?;
        self.admin_detail(&req.user_id).await
    }

    async fn admin_create_account(
        &self,
        req: pb::AdminCreateAccountRequest,
    ) -> ServiceResult<pb::Account> {
        let actor = self.require_admin(req.actor.clone()).await?;
        self.admin_create(&actor, req).await
    }

    async fn admin_set_active(&self, req: pb::AdminSetActiveRequest) -> ServiceResult<pb::Account> {
        let actor = self.require_admin(req.actor).await?;
        self.admin_set_active_impl(&actor, &req.user_id, req.active)
            .await
    }

    async fn admin_set_role(&self, req: pb::AdminSetRoleRequest) -> ServiceResult<pb::Account> {
        let actor = self.require_admin(req.actor).await?;
        self.admin_set_role_impl(&actor, &req.user_id, req.role)
            .await
    }

    async fn admin_reset_password(
        &self,
        req: pb::AdminResetPasswordRequest,
    ) -> ServiceResult<pb::Empty> {
        let actor = self.require_admin(req.actor).await?;
        self.admin_reset_password_impl(&actor, &req.user_id, req.new_password)
            .await?;
        Ok(pb::Empty {})
    }

    async fn admin_end_sessions(
        &self,
        req: pb::AdminEndSessionsRequest,
    ) -> ServiceResult<pb::Empty> {
        let actor = self.require_admin(req.actor).await?;
        self.admin_end_sessions_impl(&actor, &req.user_id, &req.session_ids)
            .await?;
        Ok(pb::Empty {})
    }

    async fn admin_get_registration(
        &self,
        req: pb::AdminActor,
    ) -> ServiceResult<pb::RegistrationSettings> {
        self.require_admin(Some(req)).await?;
        self.registration().await
    }

    async fn admin_set_registration(
        &self,
        req: pb::AdminSetRegistrationRequest,
    ) -> ServiceResult<pb::RegistrationSettings> {
        let actor = self.require_admin(req.actor).await?;
        let mode =
            pb::RegistrationMode::try_from(req.mode).unwrap_or(pb::RegistrationMode::Unspecified);
        self.set_registration(mode).await?;
        let change = AuditChange {
            action: "registration.set",
            target_id: "",
            target_username: "",
            detail: format!("mode={}", mode.as_str_name()),
        };
        self.audit(&actor, change).await?;
        self.registration().await
    }

    async fn admin_create_invite(
        &self,
        req: pb::AdminCreateInviteRequest,
    ) -> ServiceResult<pb::InviteCreated> {
        let actor = self.require_admin(req.actor).await?;
        let created = self
            .create_invite(&actor.user_id, req.uses, req.valid_days, &req.note)
            .await?;
        let invite = created.invite.clone().unwrap_or_default();
        let change = AuditChange {
            action: "invite.create",
            target_id: "",
            target_username: "",
            detail: format!("invite={} uses={}", invite.id, invite.uses_left),
        };
        self.audit(&actor, change).await?;
        Ok(created)
    }

    async fn admin_list_invites(&self, req: pb::AdminActor) -> ServiceResult<pb::InviteList> {
        self.require_admin(Some(req)).await?;
        Ok(pb::InviteList {
            invites: self.list_invites().await?,
        })
    }

    async fn admin_revoke_invite(
        &self,
        req: pb::AdminRevokeInviteRequest,
    ) -> ServiceResult<pb::Empty> {
        let actor = self.require_admin(req.actor).await?;
        self.revoke_invite(&req.invite_id).await?;
        let change = AuditChange {
            action: "invite.revoke",
            target_id: "",
            target_username: "",
            detail: format!("invite={}", req.invite_id),
        };
        self.audit(&actor, change).await?;
        Ok(pb::Empty {})
    }

    async fn admin_audit_log(&self, req: pb::AdminAuditRequest) -> ServiceResult<pb::AuditPage> {
        self.require_admin(req.actor).await?;
        self.audit_page(&req.after, req.limit).await
    }
}
