//! Administration: each request names its actor (authenticated by the
//! gateway), who must be an active admin; every change is audited.

use crate::AuthService;
use crate::audit::AuditChange;
use crate::password_policy::check_new;
use parley_core::ids::validate_username;
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;

impl AuthService {
    /// The actor, once it is known to be an active admin.
    pub(crate) async fn require_admin(
        &self,
        actor: Option<pb::AdminActor>,
    ) -> ServiceResult<pb::AdminActor> {
        let actor = actor_of(actor)?;
        let denied = || ServiceError::PermissionDenied("administrators only".into());
        let Some(_) = self.store.user_by_id(&actor.user_id).await? else {
            return Err(denied());
        };
        let info = self.account_info(&actor.user_id).await?;
        if !info.admin || info.deactivated_at_ms != 0 {
            return Err(denied());
        }
        Ok(actor)
    }

    pub(crate) async fn admin_detail(&self, user_id: &str) -> ServiceResult<pb::AccountDetail> {
        let user = self.user(user_id).await?;
        Ok(pb::AccountDetail {
            account: Some(self.account(&user).await?),
            sessions: self.sessions_of(user_id, "").await?,
        })
    }

    pub(crate) async fn admin_create(
        &self,
        actor: &pb::AdminActor,
        req: pb::AdminCreateAccountRequest,
    ) -> ServiceResult<pb::Account> {
        let admin = req.role == pb::AccountRole::Admin as i32;
        let user = self
            .create_account(req.username, req.password, admin)
            .await?;
        let change = AuditChange {
            action: "account.create",
            target_id: &user.id,
            target_username: &user.username,
            detail: format!("role={}", if admin { "admin" } else { "user" }),
        };
        self.audit(actor, change).await?;
        self.account(&user).await
    }

    pub(crate) async fn admin_set_active_impl(
        &self,
        actor: &pb::AdminActor,
        user_id: &str,
        active: bool,
    ) -> ServiceResult<pb::Account> {
        let user = self.user(user_id).await?;
        if !active && user.id == actor.user_id {
            return Err(ServiceError::PermissionDenied(
                "an admin cannot deactivate their own account".into(),
            ));
        }
        let mut info = self.account_info(&user.id).await?;
        let ended = if active {
            info.deactivated_at_ms = 0;
            self.put_account_info(&user.id, &info).await?;
            0
        } else {
            if info.deactivated_at_ms == 0 {
                info.deactivated_at_ms = now_ms();
            }
            // State first: a refresh racing the revocations finds it.
            self.put_account_info(&user.id, &info).await?;
            self.revoke_all(&user.id, None).await?
        };
        let change = AuditChange {
            action: if active {
                "account.reactivate"
            } else {
                "account.deactivate"
            },
            target_id: &user.id,
            target_username: &user.username,
            detail: if active {
                String::new()
            } else {
                format!("sessions_ended={ended}")
            },
        };
        self.audit(actor, change).await?;
        self.account(&user).await
    }

    pub(crate) async fn admin_set_role_impl(
        &self,
        actor: &pb::AdminActor,
        user_id: &str,
        role: i32,
    ) -> ServiceResult<pb::Account> {
        let admin = match pb::AccountRole::try_from(role) {
            Ok(pb::AccountRole::Admin) => true,
            Ok(pb::AccountRole::User) => false,
            Err(_) => return Err(ServiceError::InvalidArgument("unknown role".into())),
        };
        let user = self.user(user_id).await?;
        if !admin && user.id == actor.user_id {
            return Err(ServiceError::PermissionDenied(
                "an admin cannot remove their own admin role (ask another admin)".into(),
            ));
        }
        let mut info = self.account_info(&user.id).await?;
        info.admin = admin;
        self.put_account_info(&user.id, &info).await?;
        let change = AuditChange {
            action: "account.role",
            target_id: &user.id,
            target_username: &user.username,
            detail: format!("role={}", if admin { "admin" } else { "user" }),
        };
        self.audit(actor, change).await?;
        self.account(&user).await
    }

    pub(crate) async fn admin_reset_password_impl(
        &self,
        actor: &pb::AdminActor,
        user_id: &str,
        new_password: String,
    ) -> ServiceResult<()> {
        let user = self.user(user_id).await?;
        check_new(
            &new_password,
            &user.username,
            self.config.min_password_score,
        )?;
        let hash = self.hasher.hash(new_password).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        let ended = self.revoke_all(&user.id, None).await?;
        let change = AuditChange {
            action: "account.password_reset",
            target_id: &user.id,
            target_username: &user.username,
            detail: format!("sessions_ended={ended}"),
        };
        self.audit(actor, change).await
    }

    pub(crate) async fn admin_end_sessions_impl(
        &self,
        actor: &pb::AdminActor,
        user_id: &str,
        ids: &[String],
    ) -> ServiceResult<()> {
        let user = self.user(user_id).await?;
        let ended = if ids.is_empty() {
            self.revoke_all(&user.id, None).await?
        } else {
            self.revoke_listed(&user.id, ids).await?
        };
        let change = AuditChange {
            action: "account.sessions_end",
            target_id: &user.id,
            target_username: &user.username,
            detail: format!("sessions_ended={ended}"),
        };
        self.audit(actor, change).await
    }

    /// Creates an account (admin-made or self-registered) and files it.
    pub(crate) async fn create_account(
        &self,
        username: String,
        password: String,
        admin: bool,
    ) -> ServiceResult<parley_ports::UserRecord> {
        validate_username(&username)?;
        check_new(&password, &username, self.config.min_password_score)?;
        let password_hash = self.hasher.hash(password).await?;
        let user = parley_ports::UserRecord {
            id: uuid::Uuid::now_v7().to_string(),
            username,
            password_hash,
            created_at_ms: now_ms(),
        };
        match self.store.create_user(&user).await {
            Ok(()) => {}
            Err(parley_ports::StoreError::AlreadyExists(_)) => {
                return Err(ServiceError::AlreadyExists("username is taken".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let made_admin = self.on_account_created(&user).await?;
        if admin && !made_admin {
            let info = crate::records::AccountInfo {
                admin: true,
                ..Default::default()
            };
            self.put_account_info(&user.id, &info).await?;
        }
        metrics::counter!("parley_auth_registrations_total").increment(1);
        Ok(user)
    }
}

fn actor_of(a: Option<pb::AdminActor>) -> ServiceResult<pb::AdminActor> {
    let a = a.ok_or_else(|| ServiceError::Unauthenticated("no actor".into()))?;
    parley_core::ids::validate_id("actor.user_id", &a.user_id)?;
    Ok(a)
}
