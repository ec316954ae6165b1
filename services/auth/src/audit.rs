//! The admin audit log: append-only, one entry per administrative change
//! (who, from where, what, to whom, when), listed newest first.

use crate::AuthService;
use crate::records;
use parley_core::ServiceResult;
use parley_core::time::now_ms;
use parley_ports::{AuthRecordKind, AuthStore};
use parley_proto::v1 as pb;
use serde::{Deserialize, Serialize};

const MAX_PAGE: usize = 500;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct StoredEntry {
    pub at_ms: i64,
    pub actor_id: String,
    pub actor_username: String,
    pub actor_address: String,
    pub action: String,
    pub target_id: String,
    pub target_username: String,
    pub detail: String,
}

/// Ids sort newest first: the time counted down, then a random tail so two
/// entries of one millisecond both stay.
fn entry_id(at_ms: i64) -> String {
    let down = i64::MAX - at_ms.max(0);
    format!("{down:019}-{}", uuid::Uuid::new_v4().simple())
}

/// Appends an entry to the log.
pub(crate) async fn append(store: &dyn AuthStore, entry: &StoredEntry) -> ServiceResult<()> {
    let id = entry_id(entry.at_ms);
    records::put(store, AuthRecordKind::Audit, "", &id, entry, None).await
}

/// What an audit entry says about one change.
pub(crate) struct AuditChange<'a> {
    pub action: &'a str,
    pub target_id: &'a str,
    pub target_username: &'a str,
    pub detail: String,
}

impl AuthService {
    /// Appends an entry; the change it records has already happened, so a
    /// failure to log is reported to the caller (who retries) and logged.
    pub(crate) async fn audit(
        &self,
        actor: &pb::AdminActor,
        change: AuditChange<'_>,
    ) -> ServiceResult<()> {
        let at_ms = now_ms();
        let actor_username = match self.store.user_by_id(&actor.user_id).await? {
            Some(u) => u.username,
            None => String::new(),
        };
        let entry = StoredEntry {
            at_ms,
            actor_id: actor.user_id.clone(),
            actor_username,
            actor_address: actor
                .client
                .as_ref()
                .map(|c| c.address.clone())
                .unwrap_or_default(),
            action: change.action.to_string(),
            target_id: change.target_id.to_string(),
            target_username: change.target_username.to_string(),
            detail: change.detail,
        };
        tracing::info!(
            actor = %entry.actor_username,
            action = %entry.action,
            target = %entry.target_username,
            detail = %entry.detail,
            "admin action"
        );
        append(&*self.store, &entry).await
    }

    pub(crate) async fn audit_page(&self, after: &str, limit: u32) -> ServiceResult<pb::AuditPage> {
        let limit = match limit as usize {
            0 => 100,
            n => n.min(MAX_PAGE),
        };
        let kind = AuthRecordKind::Audit;
        let rows = self.store.records(kind, "", after, limit + 1).await?;
        let mut entries: Vec<pb::AuditEntry> = records::decode_all::<StoredEntry>(kind, rows)
            .into_iter()
            .map(|(id, e)| pb::AuditEntry {
                id,
                at_ms: e.at_ms,
                actor_id: e.actor_id,
                actor_username: e.actor_username,
                actor_address: e.actor_address,
                action: e.action,
                target_id: e.target_id,
                target_username: e.target_username,
                detail: e.detail,
            })
            .collect();
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::AuditPage { entries, next })
    }
}
