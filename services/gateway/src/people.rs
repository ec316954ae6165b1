//! "People": the users who share a conversation with the caller, with
//! their names, optionally by prefix (of the username or of a word of the
//! display name). A way to find colleagues, not to enumerate the accounts
//! of an open server: only contacts are ever listed, strangers never.

use crate::Gateway;
use parley_core::services::{AuthApi, StorageApi};
use parley_core::{Caller, ServiceResult};
use parley_proto::v1 as pb;

/// Users per lookup (the auth service's own cap).
const LOOKUP_BATCH: usize = 200;
/// Contacts looked at per request: bounds its cost for people in huge groups.
const MAX_CONTACTS_SCANNED: usize = 2_000;
const MAX_LIMIT: usize = 200;

/// Whether `u` matches `prefix` (lowercase; empty matches everyone).
pub(crate) fn matches(u: &pb::User, prefix: &str) -> bool {
    prefix.is_empty()
        || u.username.starts_with(prefix)
        || u.display_name
            .split_whitespace()
            .any(|w| w.to_lowercase().starts_with(prefix))
        || u.display_name.to_lowercase().starts_with(prefix)
}

pub(crate) async fn people(
    gw: &Gateway,
    me: &str,
    prefix: &str,
    limit: u32,
) -> ServiceResult<pb::UsersList> {
    let limit = match limit as usize {
        0 => 50,
        n => n.min(MAX_LIMIT),
    };
    let prefix = prefix.trim().to_lowercase();
    let caller = Caller::user(me)?.to_proto();
    let contacts = gw
        .storage
        .contacts(pb::CallerRequest { caller })
        .await?
        .user_ids;
    let mut found = Vec::new();
    for batch in contacts
        .chunks(LOOKUP_BATCH)
        .take(MAX_CONTACTS_SCANNED / LOOKUP_BATCH)
    {
        let req = pb::LookupUsersRequest {
            usernames: vec![],
            user_ids: batch.to_vec(),
        };
        let users = gw.auth.lookup_users(req).await?.users;
        found.extend(users.into_iter().filter(|u| matches(u, &prefix)));
    }
    found.sort_by(|a, b| a.username.cmp(&b.username));
    found.truncate(limit);
    Ok(pb::UsersList { users: found })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_matches_the_username_or_a_word_of_the_display_name() {
        let ann = pb::User {
            id: "1".into(),
            username: "alee".into(),
            display_name: "Ann Lee".into(),
            status_text: String::new(),
        };
        for p in ["", "al", "alee", "ann", "lee", "ann l"] {
            assert!(matches(&ann, p), "{p}");
        }
        for p in ["bob", "nn", "leex"] {
            assert!(!matches(&ann, p), "{p}");
        }
    }
}
