//! Managing a group: its name, description and history visibility (admins
//! and the owner), the members' roles (the owner), handing ownership over,
//! and who owns a group its owner leaves. Each change is a timeline event, so every member
//! and device learns it the way it learns messages.

use crate::access::{is_manager, role_of};
use crate::handlers::Handlers;
use parley_core::ids::validate_id;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;

/// Longest group title, in characters.
pub(crate) const MAX_TITLE_CHARS: usize = 200;
/// Longest group description, in characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 1000;

impl Handlers {
    /// Renames and/or describes a group; stores the new metadata and
    /// returns the event body that announces it.
    pub(crate) async fn update_conversation(
        &self,
        conv: &str,
        actor: &pb::Member,
        client_msg_id: &str,
        u: pb::ConversationUpdate,
    ) -> ServiceResult<pb::event::Body> {
        let mut meta = self.group_meta(conv).await?;
        if !is_manager(actor) {
            return Err(ServiceError::PermissionDenied(
                "only admins and the owner rename or describe a group".into(),
            ));
        }
        if let Some(t) = &u.title
            && t.chars().count() > MAX_TITLE_CHARS
        {
            return Err(ServiceError::InvalidArgument(format!(
                "title is longer than {MAX_TITLE_CHARS} characters"
            )));
        }
        if let Some(d) = &u.description
            && d.chars().count() > MAX_DESCRIPTION_CHARS
        {
            return Err(ServiceError::InvalidArgument(format!(
                "description is longer than {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        if let Some(v) = u.history_visibility
            && pb::HistoryVisibility::try_from(v).is_err()
        {
            return Err(ServiceError::InvalidArgument(
                "unknown history_visibility".into(),
            ));
        }
        let retry = self.is_stored(conv, &actor.user_id, client_msg_id).await?;
        let changes = u.title.as_ref().is_some_and(|t| *t != meta.title)
            || u.description
                .as_ref()
                .is_some_and(|d| *d != meta.description)
            || u.history_visibility
                .is_some_and(|v| visibility(v) != visibility(meta.history_visibility));
        if !changes && !retry {
            return Err(ServiceError::AlreadyExists(
                "the group already has that title and description".into(),
            ));
        }
        if let Some(t) = &u.title {
            meta.title = t.clone();
        }
        if let Some(d) = &u.description {
            meta.description = d.clone();
        }
        if let Some(v) = u.history_visibility {
            meta.history_visibility = v;
        }
        self.store.update_conversation(&meta).await?;
        Ok(pb::event::Body::Updated(u))
    }

    /// Changes a member's role (the owner only); making someone owner
    /// hands ownership over and makes the old owner an admin.
    pub(crate) async fn change_role(
        &self,
        conv: &str,
        actor: &pb::Member,
        client_msg_id: &str,
        change: pb::RoleChange,
    ) -> ServiceResult<pb::event::Body> {
        self.group_meta(conv).await?;
        validate_id("user_id", &change.user_id)?;
        if role_of(actor) != pb::Role::Owner {
            return Err(ServiceError::PermissionDenied(
                "only the owner changes roles".into(),
            ));
        }
        let role = pb::Role::try_from(change.role).unwrap_or(pb::Role::Unspecified);
        if role == pb::Role::Unspecified {
            return Err(ServiceError::InvalidArgument("role is required".into()));
        }
        if change.user_id == actor.user_id {
            return Err(ServiceError::InvalidArgument(
                "hand ownership to another member instead".into(),
            ));
        }
        let target = self
            .store
            .member(conv, &change.user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("{} is not a member", change.user_id)))?;
        let retry = self.is_stored(conv, &actor.user_id, client_msg_id).await?;
        if role_of(&target) == role && !retry {
            return Err(ServiceError::AlreadyExists(format!(
                "{} already has that role",
                change.user_id
            )));
        }
        let mut changes = vec![pb::RoleChange {
            user_id: change.user_id.clone(),
            role: role as i32,
        }];
        if role == pb::Role::Owner {
            changes.push(pb::RoleChange {
                user_id: actor.user_id.clone(),
                role: pb::Role::Admin as i32,
            });
        }
        self.apply_roles(conv, &changes).await?;
        Ok(pb::event::Body::RolesChanged(pb::RolesChanged { changes }))
    }

    /// When the owner leaves a group that keeps members, ownership passes
    /// on first (never an ownerless group): to an admin if there is one,
    /// else to a member, the first by user id. Returns the change to record.
    pub(crate) async fn succession(
        &self,
        conv: &str,
        leaving: &str,
    ) -> ServiceResult<Option<pb::RolesChanged>> {
        let mut others: Vec<pb::Member> = self
            .store
            .members(conv)
            .await?
            .into_iter()
            .filter(|m| m.user_id != leaving)
            .collect();
        others.sort_by(|a, b| {
            let rank = |m: &pb::Member| u8::from(role_of(m) != pb::Role::Admin);
            rank(a)
                .cmp(&rank(b))
                .then_with(|| a.user_id.cmp(&b.user_id))
        });
        let Some(heir) = others.first() else {
            return Ok(None);
        };
        let changes = vec![pb::RoleChange {
            user_id: heir.user_id.clone(),
            role: pb::Role::Owner as i32,
        }];
        self.apply_roles(conv, &changes).await?;
        Ok(Some(pb::RolesChanged { changes }))
    }

    /// Writes role changes to the member rows (read watermarks kept).
    async fn apply_roles(&self, conv: &str, changes: &[pb::RoleChange]) -> ServiceResult<()> {
        let rows: Vec<pb::Member> = changes
            .iter()
            .map(|c| pb::Member {
                user_id: c.user_id.clone(),
                role: c.role,
                read_seq: 0,
            })
            .collect();
        self.put_members(conv, &rows).await
    }

    /// A group's metadata, or the error for a direct conversation.
    async fn group_meta(&self, conv: &str) -> ServiceResult<pb::Conversation> {
        let meta = self.conversation_meta(conv).await?;
        if meta.kind != pb::ConversationKind::Group as i32 {
            return Err(ServiceError::InvalidArgument(
                "a direct conversation has no name, description or roles to change".into(),
            ));
        }
        Ok(meta)
    }

    /// The first seq `user` may read in `conv`: 1, or in a group whose
    /// history is visible only since joining, the event that added them
    /// (founding members: 1); past whatever they cleared for themselves.
    pub(crate) async fn visible_from(
        &self,
        meta: &pb::Conversation,
        user: &str,
    ) -> ServiceResult<u64> {
        let settings = self.store.settings(&meta.id, user).await?;
        self.visible_from_with(meta, user, &settings).await
    }

    /// `visible_from` for a caller who has read the member's settings.
    pub(crate) async fn visible_from_with(
        &self,
        meta: &pb::Conversation,
        user: &str,
        settings: &pb::ConversationSettings,
    ) -> ServiceResult<u64> {
        let cleared = settings.cleared_seq;
        let joined = if visibility(meta.history_visibility) == pb::HistoryVisibility::SinceJoined {
            self.store.joined(&meta.id, user).await?
        } else {
            1
        };
        Ok(joined.max(cleared + 1).max(1))
    }

    /// Whether a send with this key was stored already (a retry: the
    /// commit answers it with the original seq, so no check may refuse it).
    pub(crate) async fn is_stored(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> ServiceResult<bool> {
        Ok(self
            .store
            .dedup_lookup(conv, sender, client_msg_id)
            .await?
            .is_some())
    }
}

/// A stored visibility, the unspecified default read as "all".
fn visibility(v: i32) -> pb::HistoryVisibility {
    match pb::HistoryVisibility::try_from(v) {
        Ok(pb::HistoryVisibility::SinceJoined) => pb::HistoryVisibility::SinceJoined,
        _ => pb::HistoryVisibility::All,
    }
}
