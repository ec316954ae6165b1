//! The one membership check every conversation-scoped operation goes through.

use parley_core::ids::validate_id;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::TimelineStore;
use parley_proto::v1 as pb;

/// Returns the member row of `user` in `conv`, or the error a client sees
/// for a conversation it may not touch. Unknown conversations and
/// conversations the user is not in are indistinguishable (no probing).
pub(crate) async fn require_member(
    store: &dyn TimelineStore,
    conv: &str,
    user: &str,
) -> ServiceResult<pb::Member> {
    validate_id("conversation_id", conv)?;
    validate_id("user_id", user)?;
    store.member(conv, user).await?.ok_or_else(|| {
        ServiceError::NotFound(format!("conversation {conv} (or you are not a member)"))
    })
}

pub(crate) fn role_of(m: &pb::Member) -> pb::Role {
    pb::Role::try_from(m.role).unwrap_or(pb::Role::Member)
}

/// Admins and owners manage members and may delete others' messages.
pub(crate) fn is_manager(m: &pb::Member) -> bool {
    matches!(role_of(m), pb::Role::Admin | pb::Role::Owner)
}
