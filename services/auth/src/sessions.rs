//! Device sessions: their details (device, address, agent, last seen), the
//! list a user sees, ending them, and the revocation log by time that the
//! gateways refuse access tokens by (besides hearing of each revocation at
//! once over the bus).

use crate::AuthService;
use crate::records::{self, SessionInfo};
use parley_core::ServiceResult;
use parley_core::time::now_ms;
use parley_ports::{AuthRecordKind, Broadcast, Push};
use parley_proto::v1 as pb;

/// Revocations are filed under 5-minute buckets: a catch-up reads the few
/// buckets since it last asked.
const REVOCATION_BUCKET_MS: i64 = 300_000;
/// Most revocations in one reply (the rest on the next call).
const MAX_REVOKED_PER_REPLY: usize = 10_000;
/// Most sessions one account lists (the newest are kept by the sort).
const MAX_SESSIONS_LISTED: usize = 1_000;
const MAX_ADDRESS_CHARS: usize = 64;
const MAX_AGENT_CHARS: usize = 256;

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn revocation_id(at_ms: i64, session_id: &str) -> String {
    format!("{at_ms:013}/{session_id}")
}

impl AuthService {
    /// Session details live as long as a refresh token could, plus a day.
    fn session_ttl(&self) -> u32 {
        u32::try_from(self.config.refresh_token_ttl_secs + 86_400).unwrap_or(u32::MAX)
    }

    /// A revocation is kept while an access token issued before it could
    /// still be presented (its lifetime), with an hour to spare.
    fn revocation_ttl(&self) -> u32 {
        u32::try_from(self.config.access_token_ttl_secs + 3_600).unwrap_or(u32::MAX)
    }

    /// Once per store: session details for the sessions that existed before
    /// details did (older versions), so that listing them, "sign out
    /// everywhere" and deactivation reach them too. Their last activity is
    /// unknown: their creation stands in until their next refresh.
    pub(crate) async fn backfill_sessions(&self) -> ServiceResult<()> {
        const DONE: &str = "sessions_v1";
        let store = &*self.store;
        if store
            .record(AuthRecordKind::Setting, "", DONE)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let mut live = Vec::new();
        store
            .for_each_family(&mut |f| {
                if !f.revoked {
                    live.push(f.clone());
                }
            })
            .await?;
        let ttl = Some(self.session_ttl());
        let mut filed = 0;
        for f in &live {
            let kind = AuthRecordKind::Session;
            if store.record(kind, &f.user_id, &f.id).await?.is_some() {
                continue;
            }
            let info = SessionInfo {
                device_name: f.device_name.clone(),
                created_at_ms: f.created_at_ms,
                last_seen_ms: f.created_at_ms,
                ..Default::default()
            };
            records::put(store, kind, &f.user_id, &f.id, &info, ttl).await?;
            filed += 1;
        }
        store
            .put_record(AuthRecordKind::Setting, "", DONE, b"done", None)
            .await?;
        if filed > 0 {
            tracing::info!(sessions = filed, "session details backfilled");
        }
        Ok(())
    }

    /// Records a new session's details.
    pub(crate) async fn start_session(
        &self,
        user_id: &str,
        session_id: &str,
        device_name: &str,
        client: Option<&pb::ClientInfo>,
    ) -> ServiceResult<()> {
        let now = now_ms();
        let info = SessionInfo {
            device_name: device_name.to_string(),
            created_at_ms: now,
            last_seen_ms: now,
            client_address: client.map_or(String::new(), |c| cut(&c.address, MAX_ADDRESS_CHARS)),
            user_agent: client.map_or(String::new(), |c| cut(&c.user_agent, MAX_AGENT_CHARS)),
        };
        let ttl = Some(self.session_ttl());
        let store = &*self.store;
        records::put(
            store,
            AuthRecordKind::Session,
            user_id,
            session_id,
            &info,
            ttl,
        )
        .await
    }

    /// Notes a refresh: last seen, and where from. A session from before
    /// session details existed gets its record here.
    pub(crate) async fn touch_session(
        &self,
        family: &parley_ports::FamilyRecord,
        client: Option<&pb::ClientInfo>,
    ) -> ServiceResult<()> {
        let store = &*self.store;
        let kind = AuthRecordKind::Session;
        let mut info: SessionInfo = records::get(store, kind, &family.user_id, &family.id)
            .await?
            .unwrap_or_else(|| SessionInfo {
                device_name: family.device_name.clone(),
                created_at_ms: family.created_at_ms,
                ..Default::default()
            });
        info.last_seen_ms = now_ms();
        if let Some(c) = client.filter(|c| !c.address.is_empty()) {
            info.client_address = cut(&c.address, MAX_ADDRESS_CHARS);
            info.user_agent = cut(&c.user_agent, MAX_AGENT_CHARS);
        }
        let ttl = Some(self.session_ttl());
        records::put(store, kind, &family.user_id, &family.id, &info, ttl).await
    }

    /// Ends a session: its refresh tokens stop working, its access tokens
    /// are refused by every gateway, and its open sockets close.
    pub(crate) async fn revoke(&self, session_id: &str, user_id: &str) -> ServiceResult<()> {
        let now = now_ms();
        self.store.revoke_family(session_id).await?;
        let bucket = (now / REVOCATION_BUCKET_MS).to_string();
        let id = revocation_id(now, session_id);
        self.store
            .put_record(
                AuthRecordKind::Revocation,
                &bucket,
                &id,
                user_id.as_bytes(),
                Some(self.revocation_ttl()),
            )
            .await?;
        self.store
            .delete_record(AuthRecordKind::Session, user_id, session_id)
            .await?;
        // Every gateway hears it (not only those holding the user's
        // sockets): each adds it to the tokens it refuses.
        let close = Broadcast {
            users: vec![user_id.to_string()].into(),
            push: Push::CloseSession {
                session_id: session_id.to_string(),
            },
            trace: Default::default(),
        };
        if let Err(e) = self.bus.broadcast(&[close]).await {
            // The revocation is stored either way: gateways catch up from
            // it within their poll interval.
            tracing::warn!(error = %e, "could not announce a revoked session");
        }
        metrics::counter!("parley_auth_sessions_revoked_total").increment(1);
        Ok(())
    }

    /// Ends every session of `user_id` except `keep`; returns how many.
    pub(crate) async fn revoke_all(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> ServiceResult<usize> {
        let mut ended = 0;
        let mut after = String::new();
        // Page by page: an account may have more sessions than one list holds.
        loop {
            let rows = self
                .store
                .records(
                    AuthRecordKind::Session,
                    user_id,
                    &after,
                    MAX_SESSIONS_LISTED,
                )
                .await?;
            let Some(last) = rows.last() else {
                return Ok(ended);
            };
            after = last.id.clone();
            for row in rows.iter().filter(|r| Some(r.id.as_str()) != keep) {
                self.revoke(&row.id, user_id).await?;
                ended += 1;
            }
        }
    }

    /// Ends the listed sessions that belong to `user_id` (others ignored).
    pub(crate) async fn revoke_listed(
        &self,
        user_id: &str,
        ids: &[String],
    ) -> ServiceResult<usize> {
        let mut ended = 0;
        for id in ids.iter().take(MAX_SESSIONS_LISTED) {
            let Some(family) = self.store.family(id).await? else {
                continue;
            };
            if family.user_id == user_id && !family.revoked {
                self.revoke(id, user_id).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The account's live sessions, most recently seen first.
    pub(crate) async fn sessions_of(
        &self,
        user_id: &str,
        current: &str,
    ) -> ServiceResult<Vec<pb::Session>> {
        let kind = AuthRecordKind::Session;
        let rows = self
            .store
            .records(kind, user_id, "", MAX_SESSIONS_LISTED)
            .await?;
        let mut out: Vec<pb::Session> = records::decode_all::<SessionInfo>(kind, rows)
            .into_iter()
            .map(|(id, s)| pb::Session {
                current: id == current,
                session_id: id,
                device_name: s.device_name,
                created_at_ms: s.created_at_ms,
                last_seen_ms: s.last_seen_ms,
                client_address: s.client_address,
                user_agent: s.user_agent,
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.last_seen_ms));
        Ok(out)
    }

    /// Revocations at or after `since_ms` (no further back than an access
    /// token lives), oldest first.
    pub(crate) async fn revoked_since(
        &self,
        since_ms: i64,
    ) -> ServiceResult<pb::RevokedSessionList> {
        let now = now_ms();
        let horizon = now - (self.config.access_token_ttl_secs as i64 + 600) * 1000;
        let since = since_ms.max(horizon);
        let after = format!("{:013}", since.max(0));
        let mut sessions = Vec::new();
        let mut truncated = false;
        'buckets: for bucket in since / REVOCATION_BUCKET_MS..=now / REVOCATION_BUCKET_MS {
            let scope = bucket.to_string();
            let mut cursor = after.clone();
            loop {
                let left = MAX_REVOKED_PER_REPLY - sessions.len();
                let rows = self
                    .store
                    .records(AuthRecordKind::Revocation, &scope, &cursor, left.min(1_000))
                    .await?;
                let Some(last) = rows.last() else { break };
                cursor = last.id.clone();
                for r in rows {
                    let Some((at, sid)) = r.id.split_once('/') else {
                        continue;
                    };
                    sessions.push(pb::RevokedSession {
                        session_id: sid.to_string(),
                        user_id: String::from_utf8_lossy(&r.value).into_owned(),
                        revoked_at_ms: at.parse().unwrap_or_default(),
                    });
                }
                if sessions.len() >= MAX_REVOKED_PER_REPLY {
                    truncated = true;
                    break 'buckets;
                }
            }
        }
        Ok(pb::RevokedSessionList {
            sessions,
            now_ms: now,
            truncated,
        })
    }
}
