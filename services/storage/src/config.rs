use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Seqs leased from the store at a time per conversation. Seqs of a
    /// lease lost in a restart become holes (reported as skipped).
    pub seq_lease_size: u64,
    /// Largest message text, in bytes.
    pub max_text_bytes: usize,
    /// Largest group, in members.
    pub max_group_members: usize,
    /// Split mode: this instance's position in `cluster.storage_urls`. When
    /// set, the instance refuses conversations it does not own, so a
    /// shard map that differs between processes fails loudly instead of
    /// splitting a conversation over two disks.
    pub shard_index: Option<usize>,
    /// Number of storage instances: the length of `cluster.storage_urls`.
    pub shard_count: usize,
    /// Full-text search of messages: an index on local disk under
    /// data_dir, following every commit within about a second.
    pub search: bool,
    /// A group invitation nobody answered lapses after this long (it
    /// leaves the invitee's list and the group's invited ids, and the
    /// person may be invited again); 0: never.
    pub invitation_ttl_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            seq_lease_size: 100,
            max_text_bytes: 16 * 1024,
            max_group_members: 10_000,
            shard_index: None,
            shard_count: 1,
            search: true,
            invitation_ttl_secs: 30 * 24 * 3600,
        }
    }
}
