//! Mentions: the members a message (or an edit) names, checked so that
//! push and unread counts can trust them.

use crate::handlers::Handlers;
use parley_core::ids::validate_id;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;
use std::collections::HashSet;

/// Most users one message mentions by name (@all covers everyone).
pub(crate) const MAX_MENTIONS: usize = 50;

impl Handlers {
    /// Every mentioned id is a member, none twice, at most
    /// [`MAX_MENTIONS`]; @all only in a group.
    pub(crate) async fn check_mentions(
        &self,
        conv: &str,
        ids: &[String],
        all: bool,
    ) -> ServiceResult<()> {
        if ids.len() > MAX_MENTIONS {
            return Err(ServiceError::InvalidArgument(format!(
                "a message mentions at most {MAX_MENTIONS} users (use mention_all)"
            )));
        }
        let mut seen = HashSet::new();
        for id in ids {
            validate_id("mention_ids", id)?;
            if !seen.insert(id.as_str()) {
                return Err(ServiceError::InvalidArgument(format!(
                    "{id} is mentioned twice"
                )));
            }
        }
        if all && self.conversation_meta(conv).await?.kind == pb::ConversationKind::Direct as i32 {
            return Err(ServiceError::InvalidArgument(
                "mention_all is for groups".into(),
            ));
        }
        if ids.is_empty() {
            return Ok(());
        }
        let members: HashSet<String> = self
            .store
            .members(conv)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        match ids.iter().find(|id| !members.contains(*id)) {
            Some(id) => Err(ServiceError::InvalidArgument(format!(
                "{id} is not a member of this conversation"
            ))),
            None => Ok(()),
        }
    }
}
