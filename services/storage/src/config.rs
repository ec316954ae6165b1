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
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            seq_lease_size: 100,
            max_text_bytes: 16 * 1024,
            max_group_members: 10_000,
        }
    }
}
