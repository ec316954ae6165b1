//! Which conversations this instance owns, and the refusal of the others.

use crate::StorageConfig;
use parley_core::routing::{Route, Routed, owner_of};
use parley_core::{ServiceError, ServiceResult};

/// This instance's place in the shard map (`storage.shard_index` of
/// `storage.shard_count`), or none: it owns everything it is asked about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shard {
    me: Option<(usize, usize)>,
}

impl Shard {
    pub(crate) fn new(config: &StorageConfig) -> Self {
        Self {
            me: config.shard_index.map(|i| (i, config.shard_count.max(1))),
        }
    }

    pub(crate) fn owns(&self, conv: &str) -> bool {
        self.me.is_none_or(|(me, n)| owner_of(conv, n) == me)
    }

    /// Refuses a request about a conversation another instance owns: shard
    /// maps that disagree between processes fail loudly instead of
    /// splitting a conversation over two disks.
    pub(crate) fn check(&self, req: &impl Routed) -> ServiceResult<()> {
        let Route::Conversation(conv) = req.route() else {
            return Ok(());
        };
        let Some((me, n)) = self.me else {
            return Ok(());
        };
        let owner = owner_of(&conv, n);
        if owner == me {
            return Ok(());
        }
        tracing::error!(conversation = %conv, owner, me, "misrouted request: the shard maps of callers and storage disagree");
        Err(ServiceError::Internal(format!(
            "conversation {conv} belongs to storage instance {owner}, not {me}: check cluster.storage_urls everywhere"
        )))
    }

    /// A new group id this instance owns (rendezvous hashing gives it one
    /// in `shard_count` candidates on average).
    pub(crate) fn new_group_id(&self) -> String {
        loop {
            let id = uuid::Uuid::now_v7().to_string();
            if self.owns(&id) {
                return id;
            }
        }
    }
}
