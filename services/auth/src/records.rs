//! The auth service's own records on the store's (kind, scope, id) table,
//! each a small JSON document: device sessions, account state, the audit
//! log, revocations, invites and run-time settings.

use parley_core::{ServiceError, ServiceResult};
use parley_ports::{AuthRecordKind, AuthStore};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A device session's details beside its token family.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SessionInfo {
    pub device_name: String,
    pub created_at_ms: i64,
    /// The last sign-in or token refresh.
    pub last_seen_ms: i64,
    pub client_address: String,
    pub user_agent: String,
}

/// An account's role and state (absent: a user, active).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct AccountInfo {
    pub admin: bool,
    /// 0 while active.
    pub deactivated_at_ms: i64,
    /// What the person wants to be called; empty: the username.
    pub display_name: String,
    pub status_text: String,
}

/// Reads a JSON record (`None` when absent).
pub(crate) async fn get<T: DeserializeOwned>(
    store: &dyn AuthStore,
    kind: AuthRecordKind,
    scope: &str,
    id: &str,
) -> ServiceResult<Option<T>> {
    match store.record(kind, scope, id).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ServiceError::Internal(format!("corrupt {kind:?} record: {e}"))),
    }
}

/// Writes a JSON record.
pub(crate) async fn put<T: Serialize>(
    store: &dyn AuthStore,
    kind: AuthRecordKind,
    scope: &str,
    id: &str,
    value: &T,
    ttl_secs: Option<u32>,
) -> ServiceResult<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| ServiceError::Internal(e.to_string()))?;
    store.put_record(kind, scope, id, &bytes, ttl_secs).await?;
    Ok(())
}

/// Decodes listed JSON records, skipping (and logging) any that do not parse.
pub(crate) fn decode_all<T: DeserializeOwned>(
    kind: AuthRecordKind,
    rows: Vec<parley_ports::AuthRecord>,
) -> Vec<(String, T)> {
    rows.into_iter()
        .filter_map(|r| match serde_json::from_slice(&r.value) {
            Ok(v) => Some((r.id, v)),
            Err(e) => {
                tracing::warn!(?kind, id = %r.id, error = %e, "skipping a corrupt record");
                None
            }
        })
        .collect()
}
