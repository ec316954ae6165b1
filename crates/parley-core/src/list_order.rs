//! Where a conversation falls in the caller's list, as a string whose
//! byte order is the list's order. Storage instances sort their pages by
//! it and hand the last key out as the cursor; the router merges the
//! instances' pages by the same key, so both always agree.

use parley_proto::v1 as pb;

/// Activity order: pinned first (most recently pinned on top), then the
/// newest activity first, ties by id. Each time is stored inverted in
/// fixed-width hex, so a plain string comparison sorts descending.
pub fn activity_key(pinned_at_ms: i64, last_activity_ms: i64, id: &str) -> String {
    let inv = |ms: i64| u64::MAX - ms.max(0) as u64;
    format!(
        "{:016x}{:016x}{id}",
        inv(pinned_at_ms),
        inv(last_activity_ms)
    )
}

/// The key of a conversation state in the given order.
pub fn state_key(order: pb::SyncOrder, state: &pb::ConversationState) -> String {
    let id = state.conversation.as_ref().map_or("", |c| c.id.as_str());
    match order {
        pb::SyncOrder::Id => id.to_string(),
        pb::SyncOrder::Activity => {
            let pinned = state.settings.as_ref().map_or(0, |s| s.pinned_at_ms);
            activity_key(pinned, state.last_activity_ms, id)
        }
    }
}

/// Whether a conversation with these settings belongs in the filtered
/// list; `hidden`: its member cleared it and nothing came since, so it is
/// in neither the inbox nor the archive (only in the whole list).
pub fn passes(filter: pb::SyncFilter, settings: &pb::ConversationSettings, hidden: bool) -> bool {
    match filter {
        pb::SyncFilter::All => true,
        pb::SyncFilter::Inbox => !settings.archived && !hidden,
        pb::SyncFilter::Archived => settings.archived && !hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_first_then_newest_activity_then_id() {
        let mut keys = [
            activity_key(0, 5_000, "old"),
            activity_key(0, 9_000, "new"),
            activity_key(100, 1, "pinned-early"),
            activity_key(200, 1, "pinned-late"),
            activity_key(0, 9_000, "a-tie"),
        ];
        keys.sort();
        let ids: Vec<&str> = keys.iter().map(|k| &k[32..]).collect();
        assert_eq!(ids, ["pinned-late", "pinned-early", "a-tie", "new", "old"]);
    }

    #[test]
    fn negative_times_sort_as_zero() {
        assert_eq!(activity_key(-1, -5, "x"), activity_key(0, 0, "x"));
    }
}
