use crate::StoreResult;
use async_trait::async_trait;
use parley_proto::v1 as pb;
use std::ops::Range;

/// A bounded read of one conversation's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRange {
    /// Inclusive.
    pub from: u64,
    /// Inclusive.
    pub to: u64,
    pub limit: usize,
    /// Return the newest `limit` events of the range instead of the oldest.
    pub backward: bool,
}

/// One member's current reaction to a message: kept by `append` from the
/// reaction events (an add writes it, a removal deletes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRow {
    pub emoji: String,
    pub user_id: String,
    /// The seq of the reaction event that added it.
    pub seq: u64,
}

/// A pinned message: kept by `append` from pin events (a pin writes it,
/// an unpin deletes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRow {
    pub target_seq: u64,
    pub pinned_by: String,
    /// The seq of the pin event.
    pub seq: u64,
}

/// A reply in a thread: kept by `append` from message events that name a
/// thread root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRow {
    pub root_seq: u64,
    pub seq: u64,
    pub sender_id: String,
}

/// The small records kept beside conversations, each kind a namespace of
/// (scope, id) keys whose values are protobuf messages the storage service
/// owns. Listing is by scope, in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A pair of users, under the id of their direct conversation (and on
    /// the storage instance that owns it): its message request, its blocks.
    Pair = 1,
    /// A block between two users, under each of them (the blocker's row
    /// and the blocked one's), written with the pair.
    Block = 2,
    /// A pending invitation to a group: scope the group, id the invitee.
    Invite = 3,
    /// The same invitation under the invitee: scope the invitee, id the
    /// group (their list of invitations).
    UserInvite = 4,
    /// A member's read mark in a thread: scope the conversation, id the
    /// user, "/", the root seq.
    ThreadRead = 5,
    /// A message's edits and deletion: scope the conversation, id the
    /// message's seq (20 digits).
    MessageState = 6,
    /// How far a search index has indexed a conversation: scope the
    /// index's generation, id the conversation (u64 BE seq).
    SearchMark = 7,
}

impl RecordKind {
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Pair,
        RecordKind::Block,
        RecordKind::Invite,
        RecordKind::UserInvite,
        RecordKind::ThreadRead,
        RecordKind::MessageState,
        RecordKind::SearchMark,
    ];

    /// Its stable number in stored keys.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// One record's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordKey {
    pub kind: RecordKind,
    pub scope: String,
    pub id: String,
}

impl RecordKey {
    pub fn new(kind: RecordKind, scope: &str, id: &str) -> Self {
        Self {
            kind,
            scope: scope.to_string(),
            id: id.to_string(),
        }
    }
}

/// A change of one record: written (replacing any value) or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordWrite {
    Put(RecordKey, Vec<u8>),
    Delete(RecordKey),
}

/// Durable conversations, members, timelines, seq leases, dedup keys and read
/// watermarks. Implementations: embedded (redb) and ScyllaDB.
///
/// Timeline rows are immutable: `append` never overwrites an existing seq.
#[async_trait]
pub trait TimelineStore: Send + Sync + 'static {
    /// Stores a new conversation (without members). `AlreadyExists` if taken.
    async fn create_conversation(&self, conv: &pb::Conversation) -> StoreResult<()>;
    /// Replaces a stored conversation's title, description and history
    /// visibility (the rest of its metadata never changes). `NotFound` if
    /// it does not exist.
    async fn update_conversation(&self, conv: &pb::Conversation) -> StoreResult<()>;
    /// The conversation's metadata (`members` left empty).
    async fn conversation(&self, id: &str) -> StoreResult<Option<pb::Conversation>>;

    /// Inserts or updates members (role only: an existing read watermark is kept).
    async fn put_members(&self, conv: &str, members: &[pb::Member]) -> StoreResult<()>;
    async fn remove_member(&self, conv: &str, user: &str) -> StoreResult<()>;
    async fn member(&self, conv: &str, user: &str) -> StoreResult<Option<pb::Member>>;
    async fn members(&self, conv: &str) -> StoreResult<Vec<pb::Member>>;
    /// Ids of the conversations `user` is a member of.
    async fn user_conversations(&self, user: &str) -> StoreResult<Vec<String>>;

    /// Leases `n` seqs for `conv` by compare-and-set on its counter. Ranges
    /// returned for one conversation never overlap, whoever asks, and the
    /// first range starts at 1.
    async fn lease_seqs(&self, conv: &str, n: u64) -> StoreResult<Range<u64>>;

    /// Durably writes events (all or none) and, for events with a non-empty
    /// `client_msg_id`, their dedup keys (conversation, sender, client_msg_id).
    /// Raises each conversation's head to its highest written seq. A
    /// reaction event writes (or, with `remove`, deletes) the sender's
    /// reaction row in the same write; a pin event its pin row; a message
    /// in a thread its thread row.
    async fn append(&self, events: &[pb::Event]) -> StoreResult<()>;
    /// Replaces written rows with these events (same conversation and
    /// seq): the one change a written row may see, to remove the content
    /// of a deleted message (its seq, sender and time stay). Seqs not
    /// written are skipped; dedup keys, reactions, pins and thread rows are
    /// untouched.
    async fn redact(&self, events: &[pb::Event]) -> StoreResult<()>;
    async fn dedup_lookup(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> StoreResult<Option<u64>>;
    async fn read_range(&self, conv: &str, range: ReadRange) -> StoreResult<Vec<pb::Event>>;
    /// The current reactions to the message at `target`, in the order they
    /// were made (by seq).
    async fn reactions(&self, conv: &str, target: u64) -> StoreResult<Vec<ReactionRow>>;
    /// The replies in the threads under the messages `roots` (inclusive
    /// bounds) of `conv`, by root, then by seq.
    async fn thread_rows(&self, conv: &str, roots: (u64, u64)) -> StoreResult<Vec<ThreadRow>>;
    /// The pinned messages of `conv`, oldest pin first (by seq).
    async fn pins(&self, conv: &str) -> StoreResult<Vec<PinRow>>;
    /// Highest seq written for `conv` (0 when none).
    async fn head(&self, conv: &str) -> StoreResult<u64>;

    /// Records the seq of the event that added `user` to `conv` (their
    /// latest joining).
    async fn set_joined(&self, conv: &str, user: &str, seq: u64) -> StoreResult<()>;
    /// The seq of the event that last added `user` to `conv`; 0 for a
    /// founding member (or one added before this was recorded).
    async fn joined(&self, conv: &str, user: &str) -> StoreResult<u64>;

    /// `user`'s own settings of `conv` (defaults when never set).
    async fn settings(&self, conv: &str, user: &str) -> StoreResult<pb::ConversationSettings>;
    /// Replaces `user`'s own settings of `conv`.
    async fn put_settings(
        &self,
        conv: &str,
        user: &str,
        settings: &pb::ConversationSettings,
    ) -> StoreResult<()>;

    /// Raises `user`'s read watermark in `conv` to `seq` (never lowers it)
    /// and returns the resulting watermark. No-op for non-members.
    async fn set_read(&self, conv: &str, user: &str, seq: u64) -> StoreResult<u64>;

    /// Applies the changes all at once (all or none).
    async fn write_records(&self, writes: Vec<RecordWrite>) -> StoreResult<()>;
    /// One record's value, if it exists.
    async fn record(&self, key: &RecordKey) -> StoreResult<Option<Vec<u8>>>;
    /// The records of one scope in id order, at most `limit`, starting
    /// after `after` (empty: from the first).
    async fn records(
        &self,
        kind: RecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<(String, Vec<u8>)>>;
}
