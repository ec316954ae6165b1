//! The caller's conversations as a list shows them: which of them a page
//! holds (all, the inbox, the archived) and in what order (by id, or
//! pinned first and then by last activity), keyed by
//! `parley_core::list_order` so pages of several instances merge.
//!
//! Ordering by activity reads, per conversation of the caller, their
//! settings, the head and the last activity. The last activity is cached
//! per conversation against its head, so only conversations with new
//! events since the previous page cost a timeline read.

use crate::handlers::Handlers;
use futures::StreamExt;
use parley_core::list_order::{activity_key, passes};
use parley_core::{ServiceError, ServiceResult};
use parley_ports::ReadRange;
use parley_proto::v1 as pb;
use quick_cache::sync::Cache;

/// Newest events searched for the last message.
const LAST_MESSAGE_SCAN: usize = 50;
/// Conversations whose last activity is remembered (about 100 bytes each).
const ACTIVITY_CACHE_ENTRIES: usize = 200_000;
/// Conversations whose list keys are read at once.
const KEY_READS_IN_FLIGHT: usize = 16;

/// Per conversation, as of a head seq: the last activity and the newest
/// message's seq (0: none among the newest events).
pub(crate) struct ActivityCache(Cache<String, (u64, Activity)>);

#[derive(Clone, Copy)]
pub(crate) struct Activity {
    pub(crate) at_ms: i64,
    pub(crate) message_seq: u64,
}

impl Default for ActivityCache {
    fn default() -> Self {
        Self(Cache::new(ACTIVITY_CACHE_ENTRIES))
    }
}

/// The newest message among the newest events, and the last activity.
pub(crate) struct Newest {
    pub(crate) last_message: Option<pb::Event>,
    pub(crate) last_activity_ms: i64,
}

/// The order and filter a sync request asked for (unknown values refused).
pub(crate) fn list_kind(page: &pb::SyncRequest) -> ServiceResult<(pb::SyncOrder, pb::SyncFilter)> {
    let order = pb::SyncOrder::try_from(page.order)
        .map_err(|_| ServiceError::InvalidArgument(format!("unknown sync order {}", page.order)))?;
    let filter = pb::SyncFilter::try_from(page.filter).map_err(|_| {
        ServiceError::InvalidArgument(format!("unknown sync filter {}", page.filter))
    })?;
    Ok((order, filter))
}

impl Handlers {
    /// The newest message (among the newest `LAST_MESSAGE_SCAN` events up
    /// to `head`) and the conversation's last activity: that message's
    /// time, or the newest event's when none of them is a message.
    pub(crate) async fn newest(&self, conv: &str, head: u64) -> ServiceResult<Newest> {
        if head == 0 {
            return Ok(Newest {
                last_message: None,
                last_activity_ms: 0,
            });
        }
        let range = ReadRange {
            from: 1,
            to: head,
            limit: LAST_MESSAGE_SCAN,
            backward: true,
        };
        let events = self.store.read_range(conv, range).await?;
        let newest_event_ms = events.iter().map(|e| e.sent_at_ms).max().unwrap_or(0);
        let last_message = events
            .into_iter()
            .rev()
            .find(|e| matches!(e.body, Some(pb::event::Body::Message(_))));
        let last_activity_ms = last_message
            .as_ref()
            .map_or(newest_event_ms, |m| m.sent_at_ms);
        let activity = Activity {
            at_ms: last_activity_ms,
            message_seq: last_message.as_ref().map_or(0, |m| m.seq),
        };
        self.activity.0.insert(conv.to_string(), (head, activity));
        Ok(Newest {
            last_message,
            last_activity_ms,
        })
    }

    /// The activity as of the current head, from the cache when it is
    /// current.
    async fn activity(&self, conv: &str) -> ServiceResult<Activity> {
        let head = self.sequencer.stable_head(conv).await?;
        if let Some((at, activity)) = self.activity.0.get(conv)
            && at == head
        {
            return Ok(activity);
        }
        let newest = self.newest(conv, head).await?;
        Ok(Activity {
            at_ms: newest.last_activity_ms,
            message_seq: newest.last_message.map_or(0, |m| m.seq),
        })
    }

    /// The caller's conversations that pass `filter`, each with its key in
    /// `order`, sorted by key. Conversation-id order without a filter
    /// needs no read per conversation.
    pub(crate) async fn listed(
        &self,
        user: &str,
        order: pb::SyncOrder,
        filter: pb::SyncFilter,
    ) -> ServiceResult<Vec<(String, String)>> {
        let ids = self.store.user_conversations(user).await?;
        let mut keyed: Vec<(String, String)> =
            if order == pb::SyncOrder::Id && filter == pb::SyncFilter::All {
                ids.into_iter().map(|id| (id.clone(), id)).collect()
            } else {
                let keys = futures::stream::iter(ids)
                    .map(|id| self.list_key(user, id, order, filter))
                    .buffered(KEY_READS_IN_FLIGHT)
                    .collect::<Vec<_>>()
                    .await;
                let mut keyed = Vec::with_capacity(keys.len());
                for k in keys {
                    keyed.extend(k?);
                }
                keyed
            };
        keyed.sort_unstable();
        Ok(keyed)
    }

    /// One conversation's key, or None when the filter leaves it out.
    async fn list_key(
        &self,
        user: &str,
        id: String,
        order: pb::SyncOrder,
        filter: pb::SyncFilter,
    ) -> ServiceResult<Option<(String, String)>> {
        let settings = self.store.settings(&id, user).await?;
        let needs_activity = order == pb::SyncOrder::Activity
            || (filter != pb::SyncFilter::All && settings.cleared_seq > 0);
        let activity = if needs_activity {
            Some(self.activity(&id).await?)
        } else {
            None
        };
        // Cleared and nothing new since: out of the inbox and the archive.
        let hidden = activity.is_some_and(|a| a.message_seq <= settings.cleared_seq)
            && settings.cleared_seq > 0;
        if !passes(filter, &settings, hidden) {
            return Ok(None);
        }
        let key = match (order, activity) {
            (pb::SyncOrder::Activity, Some(a)) => activity_key(settings.pinned_at_ms, a.at_ms, &id),
            _ => id.clone(),
        };
        Ok(Some((key, id)))
    }
}
