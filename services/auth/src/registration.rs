//! Who may create an account: the registration mode (from configuration
//! until an admin sets it) and invite codes.

use crate::AuthService;
use crate::records;
use crate::tokens::{hash_token, new_refresh_token};
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::AuthRecordKind;
use parley_proto::v1 as pb;
use pb::RegistrationMode as Mode;
use serde::{Deserialize, Serialize};

pub(crate) const MODE_SETTING: &str = "registration_mode";
const MAX_INVITE_USES: u32 = 1_000;
const MAX_INVITE_DAYS: u32 = 90;
const MAX_NOTE_CHARS: usize = 200;
/// Most invites listed (live ones; expired ones lapse from the store).
const MAX_INVITES_LISTED: usize = 1_000;
/// Characters of the code's hash that name it in lists and the audit log.
const INVITE_ID_CHARS: usize = 12;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredInvite {
    uses_left: u32,
    expires_at_ms: i64,
    note: String,
    created_by: String,
    created_at_ms: i64,
    /// The full hash of the code (the record is filed under its prefix).
    code_hash: String,
}

/// The configured mode's name, as in the config file.
pub fn parse_mode(name: &str) -> Result<Mode, String> {
    match name {
        "open" => Ok(Mode::Open),
        "invite_only" => Ok(Mode::InviteOnly),
        "closed" => Ok(Mode::Closed),
        "sso_only" => Ok(Mode::SsoOnly),
        other => Err(format!(
            "auth.registration {other:?}: expected open, invite_only, closed or sso_only"
        )),
    }
}

fn invite_of(id: String, s: StoredInvite) -> pb::Invite {
    pb::Invite {
        id,
        uses_left: s.uses_left,
        expires_at_ms: s.expires_at_ms,
        note: s.note,
        created_by: s.created_by,
        created_at_ms: s.created_at_ms,
    }
}

impl AuthService {
    pub(crate) async fn registration(&self) -> ServiceResult<pb::RegistrationSettings> {
        let stored = self
            .store
            .record(AuthRecordKind::Setting, "", MODE_SETTING)
            .await?;
        let from_admin = stored
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|name| parse_mode(&name).ok());
        let configured = parse_mode(&self.config.registration).unwrap_or(Mode::Open);
        Ok(pb::RegistrationSettings {
            mode: from_admin.unwrap_or(configured) as i32,
            set_by_admin: from_admin.is_some(),
        })
    }

    pub(crate) async fn set_registration(&self, mode: Mode) -> ServiceResult<()> {
        let name = match mode {
            Mode::Open => "open",
            Mode::InviteOnly => "invite_only",
            Mode::Closed => "closed",
            Mode::SsoOnly => "sso_only",
            Mode::Unspecified => {
                return Err(ServiceError::InvalidArgument(
                    "mode: open, invite_only, closed or sso_only".into(),
                ));
            }
        };
        self.store
            .put_record(
                AuthRecordKind::Setting,
                "",
                MODE_SETTING,
                name.as_bytes(),
                None,
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn mode(&self) -> ServiceResult<Mode> {
        Ok(Mode::try_from(self.registration().await?.mode).unwrap_or(Mode::Open))
    }

    /// Whether a self-service registration may go ahead; spends one use of
    /// the invite code where one is needed.
    pub(crate) async fn admit_registration(&self, invite_code: &str) -> ServiceResult<()> {
        match self.mode().await? {
            Mode::Open | Mode::Unspecified => Ok(()),
            Mode::Closed => Err(ServiceError::PermissionDenied(
                "registration is closed: an administrator creates accounts".into(),
            )),
            Mode::SsoOnly => Err(ServiceError::PermissionDenied(
                "registration is by single sign-on only".into(),
            )),
            Mode::InviteOnly => self.spend_invite(invite_code).await,
        }
    }

    async fn spend_invite(&self, code: &str) -> ServiceResult<()> {
        let invalid = || {
            ServiceError::PermissionDenied(
                "registration needs a valid invite code (it may be used up or expired)".into(),
            )
        };
        if code.is_empty() || code.len() > 128 {
            return Err(invalid());
        }
        let hash = hash_token(code);
        let id = &hash[..INVITE_ID_CHARS];
        let kind = AuthRecordKind::Invite;
        // Spends are serialised here so a code's last use goes to one caller.
        let _one_at_a_time = self.invites.lock().await;
        let Some(mut invite) = records::get::<StoredInvite>(&*self.store, kind, "", id).await?
        else {
            return Err(invalid());
        };
        let now = now_ms();
        if invite.code_hash != hash || invite.uses_left == 0 || invite.expires_at_ms <= now {
            return Err(invalid());
        }
        invite.uses_left -= 1;
        if invite.uses_left == 0 {
            self.store.delete_record(kind, "", id).await?;
        } else {
            let ttl = ((invite.expires_at_ms - now) / 1000).max(1);
            let ttl = Some(u32::try_from(ttl).unwrap_or(u32::MAX));
            records::put(&*self.store, kind, "", id, &invite, ttl).await?;
        }
        Ok(())
    }

    pub(crate) async fn create_invite(
        &self,
        created_by: &str,
        uses: u32,
        valid_days: u32,
        note: &str,
    ) -> ServiceResult<pb::InviteCreated> {
        let uses = if uses == 0 { 1 } else { uses };
        let days = if valid_days == 0 { 7 } else { valid_days };
        if uses > MAX_INVITE_USES || days > MAX_INVITE_DAYS {
            return Err(ServiceError::InvalidArgument(format!(
                "an invite allows 1-{MAX_INVITE_USES} accounts over 1-{MAX_INVITE_DAYS} days"
            )));
        }
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(ServiceError::InvalidArgument(format!(
                "note is longer than {MAX_NOTE_CHARS} characters"
            )));
        }
        let code = new_refresh_token()?;
        let hash = hash_token(&code);
        let id = hash[..INVITE_ID_CHARS].to_string();
        let now = now_ms();
        let stored = StoredInvite {
            uses_left: uses,
            expires_at_ms: now + i64::from(days) * 86_400_000,
            note: note.to_string(),
            created_by: created_by.to_string(),
            created_at_ms: now,
            code_hash: hash,
        };
        let ttl = Some(days * 86_400);
        records::put(&*self.store, AuthRecordKind::Invite, "", &id, &stored, ttl).await?;
        Ok(pb::InviteCreated {
            invite: Some(invite_of(id, stored)),
            code,
        })
    }

    pub(crate) async fn list_invites(&self) -> ServiceResult<Vec<pb::Invite>> {
        let kind = AuthRecordKind::Invite;
        let rows = self.store.records(kind, "", "", MAX_INVITES_LISTED).await?;
        let now = now_ms();
        let mut out: Vec<pb::Invite> = records::decode_all::<StoredInvite>(kind, rows)
            .into_iter()
            .filter(|(_, s)| s.expires_at_ms > now && s.uses_left > 0)
            .map(|(id, s)| invite_of(id, s))
            .collect();
        out.sort_by_key(|i| std::cmp::Reverse(i.created_at_ms));
        Ok(out)
    }

    pub(crate) async fn revoke_invite(&self, id: &str) -> ServiceResult<()> {
        let kind = AuthRecordKind::Invite;
        if id.len() != INVITE_ID_CHARS || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::InvalidArgument(
                "invite_id is not an invite's id".into(),
            ));
        }
        if self.store.record(kind, "", id).await?.is_none() {
            return Err(ServiceError::NotFound("no such invite".into()));
        }
        self.store.delete_record(kind, "", id).await?;
        Ok(())
    }
}
