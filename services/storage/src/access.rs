//! The one membership check every conversation-scoped operation goes through.

use parley_core::ids::validate_id;
use parley_core::{Caller, ServiceError, ServiceResult};
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

/// For the calls a system caller may make as well as a user: a user must
/// be a member (their row is returned); the system is not checked.
pub(crate) async fn require_member_or_system(
    store: &dyn TimelineStore,
    conv: &str,
    caller: &Caller,
) -> ServiceResult<Option<pb::Member>> {
    match caller {
        Caller::User(user) => require_member(store, conv, user).await.map(Some),
        Caller::System => {
            validate_id("conversation_id", conv)?;
            Ok(None)
        }
    }
}

/// The caller of a request, which must be a user (a send, a receipt...).
pub(crate) fn user_caller(caller: Option<&pb::Caller>) -> ServiceResult<String> {
    Ok(Caller::from_proto(caller)?.user_id()?.to_string())
}

pub(crate) fn role_of(m: &pb::Member) -> pb::Role {
    pb::Role::try_from(m.role).unwrap_or(pb::Role::Member)
}

/// Admins and owners manage members and may delete others' messages.
pub(crate) fn is_manager(m: &pb::Member) -> bool {
    matches!(role_of(m), pb::Role::Admin | pb::Role::Owner)
}
