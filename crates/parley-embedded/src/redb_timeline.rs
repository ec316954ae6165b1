//! The embedded timeline store on redb. Records are protobuf-encoded.

use crate::db::{EmbeddedDb, be, open_or_empty};
use async_trait::async_trait;
use parley_ports::{
    PinRow, ReactionRow, ReadRange, RecordKey, RecordKind, RecordWrite, StoreError, StoreResult,
    ThreadRow, TimelineStore,
};
use parley_proto::v1 as pb;
use prost::Message;
use redb::{ReadableTable, TableDefinition};
use std::ops::Range;

pub(crate) const CONVERSATIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("conversations");
/// (conversation, user) -> Member
pub(crate) const MEMBERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("members");
/// (user, conversation) -> () : the reverse index for sync.
pub(crate) const USER_CONVS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("user_conversations");
/// conversation -> first seq not yet leased.
pub(crate) const LEASES: TableDefinition<&str, u64> = TableDefinition::new("seq_leases");
/// (conversation, seq) -> Event
pub(crate) const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
/// (conversation, sender, client_msg_id) -> seq
pub(crate) const DEDUP: TableDefinition<(&str, &str, &str), u64> = TableDefinition::new("dedup");
/// (conversation, target seq, emoji, user) -> seq of the reaction event
const REACTIONS: TableDefinition<(&str, u64, &str, &str), u64> = TableDefinition::new("reactions");
/// (conversation, target seq) -> (seq of the pin event, who pinned)
const PINS: TableDefinition<(&str, u64), (u64, &str)> = TableDefinition::new("pins");
/// (conversation, user) -> ConversationSettings (the member's own)
const SETTINGS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("member_settings");
/// (conversation, root seq, seq) -> sender: replies in threads
const THREADS: TableDefinition<(&str, u64, u64), &str> = TableDefinition::new("thread_replies");
/// (kind, scope, id) -> a record (see `RecordKind`)
const RECORDS: TableDefinition<(u8, &str, &str), &[u8]> = TableDefinition::new("records");
/// (conversation, user) -> seq of the event that added them
const JOINS: TableDefinition<(&str, &str), u64> = TableDefinition::new("member_joins");
/// conversation -> highest written seq
const HEADS: TableDefinition<&str, u64> = TableDefinition::new("heads");

fn decode<M: Message + Default>(bytes: &[u8]) -> StoreResult<M> {
    M::decode(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Timeline store on the embedded database.
#[derive(Debug, Clone)]
pub struct RedbTimelineStore {
    db: EmbeddedDb,
}

impl RedbTimelineStore {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TimelineStore for RedbTimelineStore {
    async fn create_conversation(&self, conv: &pb::Conversation) -> StoreResult<()> {
        let id = conv.id.clone();
        let mut meta = conv.clone();
        meta.members.clear();
        let bytes = meta.encode_to_vec();
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(CONVERSATIONS).map_err(be)?;
                if t.get(id.as_str()).map_err(be)?.is_some() {
                    return Err(StoreError::AlreadyExists(format!("conversation {id}")));
                }
                t.insert(id.as_str(), bytes.as_slice()).map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn update_conversation(&self, conv: &pb::Conversation) -> StoreResult<()> {
        let (id, title, description, history_visibility) = (
            conv.id.clone(),
            conv.title.clone(),
            conv.description.clone(),
            conv.history_visibility,
        );
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(CONVERSATIONS).map_err(be)?;
                let old: pb::Conversation = match t.get(id.as_str()).map_err(be)? {
                    Some(v) => decode(v.value())?,
                    None => return Err(StoreError::NotFound(format!("conversation {id}"))),
                };
                let meta = pb::Conversation {
                    title,
                    description,
                    history_visibility,
                    ..old
                };
                t.insert(id.as_str(), meta.encode_to_vec().as_slice())
                    .map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<pb::Conversation>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, CONVERSATIONS, None);
        t.get(id)
            .map_err(be)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    async fn put_members(&self, conv: &str, members: &[pb::Member]) -> StoreResult<()> {
        let conv = conv.to_string();
        let members = members.to_vec();
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(MEMBERS).map_err(be)?;
                let mut rev = txn.open_table(USER_CONVS).map_err(be)?;
                for m in members {
                    let key = (conv.as_str(), m.user_id.as_str());
                    let read_seq = match t.get(key).map_err(be)? {
                        Some(old) => decode::<pb::Member>(old.value())?.read_seq,
                        None => 0,
                    };
                    let row = pb::Member {
                        read_seq,
                        ..m.clone()
                    };
                    t.insert(key, row.encode_to_vec().as_slice()).map_err(be)?;
                    rev.insert((m.user_id.as_str(), conv.as_str()), ())
                        .map_err(be)?;
                }
                Ok(())
            })
            .await
    }

    async fn remove_member(&self, conv: &str, user: &str) -> StoreResult<()> {
        let (conv, user) = (conv.to_string(), user.to_string());
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(MEMBERS).map_err(be)?;
                let mut rev = txn.open_table(USER_CONVS).map_err(be)?;
                t.remove((conv.as_str(), user.as_str())).map_err(be)?;
                rev.remove((user.as_str(), conv.as_str())).map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn member(&self, conv: &str, user: &str) -> StoreResult<Option<pb::Member>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, MEMBERS, None);
        t.get((conv, user))
            .map_err(be)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    async fn members(&self, conv: &str) -> StoreResult<Vec<pb::Member>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, MEMBERS, Vec::new());
        let mut out = Vec::new();
        for row in t.range((conv, "")..).map_err(be)? {
            let (k, v) = row.map_err(be)?;
            if k.value().0 != conv {
                break;
            }
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    async fn user_conversations(&self, user: &str) -> StoreResult<Vec<String>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, USER_CONVS, Vec::new());
        let mut out = Vec::new();
        for row in t.range((user, "")..).map_err(be)? {
            let (k, _) = row.map_err(be)?;
            let (u, c) = k.value();
            if u != user {
                break;
            }
            out.push(c.to_string());
        }
        Ok(out)
    }

    async fn lease_seqs(&self, conv: &str, n: u64) -> StoreResult<Range<u64>> {
        let conv = conv.to_string();
        // The writer runs one transaction at a time, so this read-modify-write
        // is a compare-and-set.
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(LEASES).map_err(be)?;
                let start = t
                    .get(conv.as_str())
                    .map_err(be)?
                    .map(|v| v.value())
                    .unwrap_or(1);
                t.insert(conv.as_str(), start + n).map_err(be)?;
                Ok(start..start + n)
            })
            .await
    }

    async fn redact(&self, events: &[pb::Event]) -> StoreResult<()> {
        let rows: Vec<(String, u64, Vec<u8>)> = events
            .iter()
            .map(|e| (e.conversation_id.clone(), e.seq, e.encode_to_vec()))
            .collect();
        self.db
            .write(move |txn| {
                let mut ev = txn.open_table(EVENTS).map_err(be)?;
                for (conv, seq, bytes) in &rows {
                    if ev.get((conv.as_str(), *seq)).map_err(be)?.is_some() {
                        ev.insert((conv.as_str(), *seq), bytes.as_slice())
                            .map_err(be)?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn append(&self, events: &[pb::Event]) -> StoreResult<()> {
        let rows: Vec<(String, u64, String, String, Vec<u8>)> = events
            .iter()
            .map(|e| {
                (
                    e.conversation_id.clone(),
                    e.seq,
                    e.sender_id.clone(),
                    e.client_msg_id.clone(),
                    e.encode_to_vec(),
                )
            })
            .collect();
        let reactions: Vec<(String, u64, String, String, u64, bool)> = events
            .iter()
            .filter_map(|e| match &e.body {
                Some(pb::event::Body::Reaction(r)) => Some((
                    e.conversation_id.clone(),
                    r.target_seq,
                    r.emoji.clone(),
                    e.sender_id.clone(),
                    e.seq,
                    r.remove,
                )),
                _ => None,
            })
            .collect();
        let pins: Vec<(String, u64, u64, String, bool)> = events
            .iter()
            .filter_map(|e| match &e.body {
                Some(pb::event::Body::Pin(p)) => Some((
                    e.conversation_id.clone(),
                    p.target_seq,
                    e.seq,
                    e.sender_id.clone(),
                    p.unpin,
                )),
                _ => None,
            })
            .collect();
        let threads: Vec<(String, u64, u64, String)> = events
            .iter()
            .filter_map(|e| match &e.body {
                Some(pb::event::Body::Message(m)) if m.thread_root_seq != 0 => Some((
                    e.conversation_id.clone(),
                    m.thread_root_seq,
                    e.seq,
                    e.sender_id.clone(),
                )),
                _ => None,
            })
            .collect();
        self.db
            .write(move |txn| {
                let mut ev = txn.open_table(EVENTS).map_err(be)?;
                let mut dd = txn.open_table(DEDUP).map_err(be)?;
                let mut heads = txn.open_table(HEADS).map_err(be)?;
                // Rows are immutable: check every key before the first write.
                for (conv, seq, ..) in &rows {
                    if ev.get((conv.as_str(), *seq)).map_err(be)?.is_some() {
                        return Err(StoreError::AlreadyExists(format!("seq {seq} of {conv}")));
                    }
                }
                for (conv, seq, sender, cmid, bytes) in &rows {
                    ev.insert((conv.as_str(), *seq), bytes.as_slice())
                        .map_err(be)?;
                    if !cmid.is_empty() {
                        dd.insert((conv.as_str(), sender.as_str(), cmid.as_str()), *seq)
                            .map_err(be)?;
                    }
                    let head = heads
                        .get(conv.as_str())
                        .map_err(be)?
                        .map(|v| v.value())
                        .unwrap_or(0);
                    if *seq > head {
                        heads.insert(conv.as_str(), *seq).map_err(be)?;
                    }
                }
                if !reactions.is_empty() {
                    let mut rt = txn.open_table(REACTIONS).map_err(be)?;
                    for (conv, target, emoji, user, seq, remove) in &reactions {
                        let k = (conv.as_str(), *target, emoji.as_str(), user.as_str());
                        if *remove {
                            rt.remove(k).map_err(be)?;
                        } else {
                            rt.insert(k, *seq).map_err(be)?;
                        }
                    }
                }
                if !pins.is_empty() {
                    let mut pt = txn.open_table(PINS).map_err(be)?;
                    for (conv, target, seq, user, unpin) in &pins {
                        if *unpin {
                            pt.remove((conv.as_str(), *target)).map_err(be)?;
                        } else {
                            pt.insert((conv.as_str(), *target), (*seq, user.as_str()))
                                .map_err(be)?;
                        }
                    }
                }
                if !threads.is_empty() {
                    let mut tt = txn.open_table(THREADS).map_err(be)?;
                    for (conv, root, seq, sender) in &threads {
                        tt.insert((conv.as_str(), *root, *seq), sender.as_str())
                            .map_err(be)?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn dedup_lookup(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> StoreResult<Option<u64>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, DEDUP, None);
        Ok(t.get((conv, sender, client_msg_id))
            .map_err(be)?
            .map(|v| v.value()))
    }

    async fn read_range(&self, conv: &str, range: ReadRange) -> StoreResult<Vec<pb::Event>> {
        if range.from > range.to || range.limit == 0 {
            return Ok(Vec::new());
        }
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, EVENTS, Vec::new());
        let rows = t.range((conv, range.from)..=(conv, range.to)).map_err(be)?;
        let mut out = Vec::with_capacity(range.limit.min(512));
        if range.backward {
            for row in rows.rev().take(range.limit) {
                out.push(decode(row.map_err(be)?.1.value())?);
            }
            out.reverse();
        } else {
            for row in rows.take(range.limit) {
                out.push(decode(row.map_err(be)?.1.value())?);
            }
        }
        Ok(out)
    }

    async fn reactions(&self, conv: &str, target: u64) -> StoreResult<Vec<ReactionRow>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, REACTIONS, Vec::new());
        let mut out = Vec::new();
        for row in t.range((conv, target, "", "")..).map_err(be)? {
            let (k, v) = row.map_err(be)?;
            let (c, seq, emoji, user) = k.value();
            if c != conv || seq != target {
                break;
            }
            out.push(ReactionRow {
                emoji: emoji.to_string(),
                user_id: user.to_string(),
                seq: v.value(),
            });
        }
        out.sort_unstable_by_key(|r| r.seq);
        Ok(out)
    }

    async fn thread_rows(&self, conv: &str, (from, to): (u64, u64)) -> StoreResult<Vec<ThreadRow>> {
        if from > to {
            return Ok(Vec::new());
        }
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, THREADS, Vec::new());
        let mut out = Vec::new();
        for row in t
            .range((conv, from, 0)..=(conv, to, u64::MAX))
            .map_err(be)?
        {
            let (k, v) = row.map_err(be)?;
            let (_, root_seq, seq) = k.value();
            out.push(ThreadRow {
                root_seq,
                seq,
                sender_id: v.value().to_string(),
            });
        }
        Ok(out)
    }

    async fn pins(&self, conv: &str) -> StoreResult<Vec<PinRow>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, PINS, Vec::new());
        let mut out = Vec::new();
        for row in t.range((conv, 0)..=(conv, u64::MAX)).map_err(be)? {
            let (k, v) = row.map_err(be)?;
            let (seq, user) = v.value();
            out.push(PinRow {
                target_seq: k.value().1,
                pinned_by: user.to_string(),
                seq,
            });
        }
        out.sort_unstable_by_key(|r| r.seq);
        Ok(out)
    }

    async fn head(&self, conv: &str) -> StoreResult<u64> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, HEADS, 0);
        Ok(t.get(conv).map_err(be)?.map(|v| v.value()).unwrap_or(0))
    }

    async fn set_joined(&self, conv: &str, user: &str, seq: u64) -> StoreResult<()> {
        let (conv, user) = (conv.to_string(), user.to_string());
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(JOINS).map_err(be)?;
                t.insert((conv.as_str(), user.as_str()), seq).map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn joined(&self, conv: &str, user: &str) -> StoreResult<u64> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, JOINS, 0);
        Ok(t.get((conv, user))
            .map_err(be)?
            .map(|v| v.value())
            .unwrap_or(0))
    }

    async fn settings(&self, conv: &str, user: &str) -> StoreResult<pb::ConversationSettings> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, SETTINGS, pb::ConversationSettings::default());
        t.get((conv, user))
            .map_err(be)?
            .map(|v| decode(v.value()))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn put_settings(
        &self,
        conv: &str,
        user: &str,
        settings: &pb::ConversationSettings,
    ) -> StoreResult<()> {
        let (conv, user, bytes) = (conv.to_string(), user.to_string(), settings.encode_to_vec());
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(SETTINGS).map_err(be)?;
                t.insert((conv.as_str(), user.as_str()), bytes.as_slice())
                    .map_err(be)?;
                Ok(())
            })
            .await
    }

    async fn set_read(&self, conv: &str, user: &str, seq: u64) -> StoreResult<u64> {
        let (conv, user) = (conv.to_string(), user.to_string());
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(MEMBERS).map_err(be)?;
                let key = (conv.as_str(), user.as_str());
                let Some(mut m) = t
                    .get(key)
                    .map_err(be)?
                    .map(|v| decode::<pb::Member>(v.value()))
                    .transpose()?
                else {
                    return Ok(0);
                };
                if seq > m.read_seq {
                    m.read_seq = seq;
                    t.insert(key, m.encode_to_vec().as_slice()).map_err(be)?;
                }
                Ok(m.read_seq)
            })
            .await
    }

    async fn write_records(&self, writes: Vec<RecordWrite>) -> StoreResult<()> {
        self.db
            .write(move |txn| {
                let mut t = txn.open_table(RECORDS).map_err(be)?;
                for w in &writes {
                    match w {
                        RecordWrite::Put(k, v) => {
                            t.insert(
                                (k.kind.code(), k.scope.as_str(), k.id.as_str()),
                                v.as_slice(),
                            )
                            .map_err(be)?;
                        }
                        RecordWrite::Delete(k) => {
                            t.remove((k.kind.code(), k.scope.as_str(), k.id.as_str()))
                                .map_err(be)?;
                        }
                    }
                }
                Ok(())
            })
            .await
    }

    async fn record(&self, key: &RecordKey) -> StoreResult<Option<Vec<u8>>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, RECORDS, None);
        Ok(
            t.get((key.kind.code(), key.scope.as_str(), key.id.as_str()))
                .map_err(be)?
                .map(|v| v.value().to_vec()),
        )
    }

    async fn records(
        &self,
        kind: RecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let txn = self.db.read()?;
        let t = open_or_empty!(txn, RECORDS, Vec::new());
        let mut out = Vec::new();
        for row in t.range((kind.code(), scope, after)..).map_err(be)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row.map_err(be)?;
            let (code, s, id) = k.value();
            if code != kind.code() || s != scope {
                break;
            }
            if id > after {
                out.push((id.to_string(), v.value().to_vec()));
            }
        }
        Ok(out)
    }
}
