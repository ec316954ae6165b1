//! A member's own view of a conversation: their private settings (mute,
//! archive, pin to the top, marked unread), and what the conversation list
//! shows for them (unread and mention counts, the newest message).

use crate::access::{require_member, user_caller};
use crate::handlers::Handlers;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::ReadRange;
use parley_proto::v1 as pb;
use std::collections::HashSet;

/// Events above the read watermark that sync counts (a bounded read per
/// conversation; beyond it the count is reported as capped).
pub(crate) const UNREAD_SCAN: usize = 500;

/// What a sync entry tells a member beyond the conversation itself.
pub(crate) struct MemberView {
    pub(crate) settings: pb::ConversationSettings,
    pub(crate) unread_count: u32,
    pub(crate) mention_count: u32,
    pub(crate) unread_capped: bool,
    pub(crate) last_message: Option<pb::Event>,
    pub(crate) last_activity_ms: i64,
}

impl Handlers {
    pub(crate) async fn update_settings(
        &self,
        req: pb::SettingsRequest,
    ) -> ServiceResult<pb::SettingsReply> {
        let user = user_caller(req.caller.as_ref())?;
        require_member(&*self.store, &req.conversation_id, &user).await?;
        let mut settings = req.settings.unwrap_or_default();
        if settings.muted_until_ms < -1 || settings.pinned_at_ms < 0 {
            return Err(ServiceError::InvalidArgument(
                "muted_until_ms is a time, 0 or -1; pinned_at_ms a time or 0".into(),
            ));
        }
        // A cleared history stays cleared: a device that sends settings it
        // read before the clear must not bring the history back.
        let stored = self
            .store
            .settings(&req.conversation_id, &user)
            .await?
            .cleared_seq;
        let head = self.store.head(&req.conversation_id).await?;
        settings.cleared_seq = settings.cleared_seq.min(head).max(stored);
        self.store
            .put_settings(&req.conversation_id, &user, &settings)
            .await?;
        Ok(pb::SettingsReply {
            conversation_id: req.conversation_id,
            settings: Some(settings),
        })
    }

    /// Clears "marked unread" once the member reads the conversation.
    pub(crate) async fn clear_marked_unread(&self, conv: &str, user: &str) -> ServiceResult<()> {
        let mut s = self.store.settings(conv, user).await?;
        if s.marked_unread {
            s.marked_unread = false;
            self.store.put_settings(conv, user, &s).await?;
        }
        Ok(())
    }

    /// The member's view with their `settings` (as read by the caller):
    /// unread and mention counts above `read_seq` up to `head`, the newest
    /// message and the last activity.
    pub(crate) async fn member_view(
        &self,
        conv: &str,
        user: &str,
        settings: pb::ConversationSettings,
        read_seq: u64,
        head: u64,
    ) -> ServiceResult<MemberView> {
        let mut view = MemberView {
            settings,
            unread_count: 0,
            mention_count: 0,
            unread_capped: false,
            last_message: None,
            last_activity_ms: 0,
        };
        if head > read_seq {
            let range = ReadRange {
                from: read_seq + 1,
                to: head,
                limit: UNREAD_SCAN,
                backward: false,
            };
            let events = self.store.read_range(conv, range).await?;
            view.unread_capped =
                events.len() == UNREAD_SCAN && events.last().is_some_and(|e| e.seq < head);
            let deleted: HashSet<u64> = events
                .iter()
                .filter_map(|e| match &e.body {
                    Some(pb::event::Body::Delete(d)) => Some(d.target_seq),
                    _ => None,
                })
                .collect();
            for e in &events {
                let Some(pb::event::Body::Message(m)) = &e.body else {
                    continue;
                };
                if e.sender_id == user || deleted.contains(&e.seq) {
                    continue;
                }
                view.unread_count += 1;
                if m.mention_all || m.mention_ids.iter().any(|id| id == user) {
                    view.mention_count += 1;
                }
            }
        }
        let newest = self.newest(conv, head).await?;
        view.last_message = newest.last_message;
        view.last_activity_ms = newest.last_activity_ms;
        Ok(view)
    }
}
