//! The timeline store on ScyllaDB (see the schema in migrations/ for the
//! data model and why each table is shaped as it is).

use crate::ScyllaError;
use crate::bucket::{bucket_of, slices};
use crate::lwt::{Lwt, applied};
use crate::rows::{
    ConversationSelectRow, EventSelectRow, conversation_from_row, conversation_to_row,
    event_from_row, event_to_row, member_from_row, read_mark_from_cql, seq_from_cql, seq_to_cql,
};
use crate::session::ScyllaSession;
use async_trait::async_trait;
use parley_ports::{
    PinRow, ReactionRow, ReadRange, RecordKey, RecordKind, RecordWrite, StoreError, StoreResult,
    ThreadRow, TimelineStore,
};
use parley_proto::v1 as pb;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// A statement and its values, written beside an event in its batch.
type Annotation = (PreparedStatement, Box<dyn SerializeRow + Send + Sync>);

/// Compare-and-set attempts of one lease before giving up (each failed
/// attempt means another instance leased in between: real contention on
/// one conversation's counter is rare, as it has one owner).
const LEASE_ATTEMPTS: usize = 32;

pub struct ScyllaTimelineStore {
    s: Arc<ScyllaSession>,
    /// The logged batch of an append (event, dedup key, head), built once:
    /// with and without the dedup key.
    append_with_dedup: Batch,
    append_without_dedup: Batch,
}

impl ScyllaTimelineStore {
    pub fn new(session: Arc<ScyllaSession>) -> Self {
        let batch = |statements: &[&PreparedStatement]| {
            let mut b = Batch::new(BatchType::Logged);
            for st in statements {
                b.append_statement((*st).clone());
            }
            // Rewriting the same immutable rows and max registers is harmless.
            b.set_is_idempotent(true);
            b
        };
        let p = &session.prepared;
        Self {
            append_with_dedup: batch(&[&p.INSERT_EVENT, &p.INSERT_DEDUP, &p.RAISE_HEAD]),
            append_without_dedup: batch(&[&p.INSERT_EVENT, &p.RAISE_HEAD]),
            s: session,
        }
    }

    async fn read_mark(&self, conv: &str, user: &str) -> Result<u64, ScyllaError> {
        let p = &self.s.prepared;
        let mark: Option<(Option<i64>,)> = self.s.first(&p.SELECT_READ_MARK, (conv, user)).await?;
        Ok(read_mark_from_cql(mark.and_then(|(s,)| s)))
    }

    async fn lease(&self, conv: &str, n: u64) -> Result<Range<u64>, ScyllaError> {
        let p = &self.s.prepared;
        let n = n.max(1);
        let first_end = seq_to_cql(1 + n)?;
        let created = self
            .s
            .session
            .execute_unpaged(&p.INSERT_COUNTER, (conv, first_end))
            .await?;
        let mut current = match applied(created)? {
            Lwt::Applied => return Ok(1..1 + n),
            Lwt::NotApplied(row) => row.get_i64("next_seq")?,
        };
        for _ in 0..LEASE_ATTEMPTS {
            let start = seq_from_cql(current)?;
            let end = start
                .checked_add(n)
                .ok_or_else(|| ScyllaError::Range("seq space exhausted".into()))?;
            let advanced = self
                .s
                .session
                .execute_unpaged(&p.ADVANCE_COUNTER, (seq_to_cql(end)?, conv, current))
                .await?;
            match applied(advanced)? {
                Lwt::Applied => return Ok(start..end),
                Lwt::NotApplied(row) => current = row.get_i64("next_seq")?,
            }
        }
        Err(ScyllaError::Decode(format!(
            "could not lease seqs for {conv}: {LEASE_ATTEMPTS} compare-and-set attempts lost"
        )))
    }

    async fn append_one(&self, e: &pb::Event) -> Result<(), ScyllaError> {
        let row = event_to_row(e)?;
        let seq = row.2;
        let head = (e.conversation_id.clone(), seq, seq);
        if let Some(extra) = self.annotation(e)? {
            return self.append_annotated(e, row, head, extra).await;
        }
        // One logged batch: the event, its dedup key and the head are
        // written all or none, so an acked send always has its dedup key.
        if e.client_msg_id.is_empty() {
            self.s
                .session
                .batch(&self.append_without_dedup, (row, head))
                .await?;
        } else {
            let dedup = (
                e.conversation_id.clone(),
                e.sender_id.clone(),
                e.client_msg_id.clone(),
                seq,
                self.s.config.dedup_ttl_secs(),
            );
            self.s
                .session
                .batch(&self.append_with_dedup, (row, dedup, head))
                .await?;
        }
        Ok(())
    }

    /// The row a reaction, pin or thread reply writes or deletes beside itself:
    /// the statement and its values, at timestamp = seq so the latest
    /// event of a (message, emoji, user) or a pinned message wins.
    fn annotation(&self, e: &pb::Event) -> Result<Option<Annotation>, ScyllaError> {
        let p = &self.s.prepared;
        let seq = seq_to_cql(e.seq)?;
        let conv = e.conversation_id.clone();
        let user = e.sender_id.clone();
        Ok(match &e.body {
            Some(pb::event::Body::Reaction(r)) => {
                let target = seq_to_cql(r.target_seq)?;
                let emoji = r.emoji.clone();
                Some(if r.remove {
                    (
                        p.DELETE_REACTION.clone(),
                        Box::new((seq, conv, target, emoji, user)),
                    )
                } else {
                    (
                        p.INSERT_REACTION.clone(),
                        Box::new((conv, target, emoji, user, seq, seq)),
                    )
                })
            }
            Some(pb::event::Body::Message(m)) if m.thread_root_seq != 0 => {
                let root = seq_to_cql(m.thread_root_seq)?;
                let bucket = seq_to_cql(bucket_of(m.thread_root_seq))?;
                Some((
                    p.INSERT_THREAD_REPLY.clone(),
                    Box::new((conv, bucket, root, seq, user)),
                ))
            }
            Some(pb::event::Body::Pin(pin)) => {
                let target = seq_to_cql(pin.target_seq)?;
                Some(if pin.unpin {
                    (p.DELETE_PIN.clone(), Box::new((seq, conv, target)))
                } else {
                    (
                        p.INSERT_PIN.clone(),
                        Box::new((conv, target, user, seq, seq)),
                    )
                })
            }
            _ => None,
        })
    }

    /// An event with a row beside it (a reaction, a pin): the event, its
    /// dedup key, the head and the row in one logged batch.
    async fn append_annotated(
        &self,
        e: &pb::Event,
        row: impl SerializeRow + Send + Sync + 'static,
        head: (String, i64, i64),
        (statement, extra): Annotation,
    ) -> Result<(), ScyllaError> {
        let p = &self.s.prepared;
        let seq = head.1;
        let mut batch = Batch::new(BatchType::Logged);
        let mut values: Vec<Box<dyn SerializeRow + Send + Sync>> = Vec::new();
        batch.append_statement(p.INSERT_EVENT.clone());
        values.push(Box::new(row));
        if !e.client_msg_id.is_empty() {
            batch.append_statement(p.INSERT_DEDUP.clone());
            values.push(Box::new((
                e.conversation_id.clone(),
                e.sender_id.clone(),
                e.client_msg_id.clone(),
                seq,
                self.s.config.dedup_ttl_secs(),
            )));
        }
        batch.append_statement(p.RAISE_HEAD.clone());
        values.push(Box::new(head));
        batch.append_statement(statement);
        values.push(extra);
        batch.set_is_idempotent(true);
        self.s.session.batch(&batch, values).await?;
        Ok(())
    }

    async fn read(&self, conv: &str, range: ReadRange) -> Result<Vec<pb::Event>, ScyllaError> {
        if range.limit == 0 || range.from > range.to {
            return Ok(vec![]);
        }
        // Never walk buckets past the head (a `to` of u64::MAX is common).
        let to = range.to.min(self.head_of(conv).await?);
        let p = &self.s.prepared;
        let stmt = if range.backward {
            &p.SELECT_EVENTS_DESC
        } else {
            &p.SELECT_EVENTS_ASC
        };
        let mut out = Vec::new();
        for slice in slices(range.from, to, range.backward) {
            let remaining = range.limit - out.len();
            let limit = i32::try_from(remaining).unwrap_or(i32::MAX);
            let rows: Vec<EventSelectRow> = self
                .s
                .rows(
                    stmt,
                    (
                        conv,
                        seq_to_cql(slice.bucket)?,
                        seq_to_cql(slice.from)?,
                        seq_to_cql(slice.to)?,
                        limit,
                    ),
                )
                .await?;
            for row in rows.into_iter().take(remaining) {
                out.push(event_from_row(row)?);
            }
            if out.len() >= range.limit {
                break;
            }
        }
        if range.backward {
            out.reverse();
        }
        Ok(out)
    }

    async fn head_of(&self, conv: &str) -> Result<u64, ScyllaError> {
        let head: Option<(Option<i64>,)> =
            self.s.first(&self.s.prepared.SELECT_HEAD, (conv,)).await?;
        head.and_then(|(h,)| h).map_or(Ok(0), seq_from_cql)
    }
}

#[async_trait]
impl TimelineStore for ScyllaTimelineStore {
    async fn create_conversation(&self, conv: &pb::Conversation) -> StoreResult<()> {
        let result = self
            .s
            .session
            .execute_unpaged(
                &self.s.prepared.INSERT_CONVERSATION,
                conversation_to_row(conv),
            )
            .await
            .map_err(ScyllaError::from)?;
        match applied(result)? {
            Lwt::Applied => Ok(()),
            Lwt::NotApplied(_) => Err(StoreError::AlreadyExists(format!(
                "conversation {}",
                conv.id
            ))),
        }
    }

    async fn update_conversation(&self, conv: &pb::Conversation) -> StoreResult<()> {
        let p = &self.s.prepared;
        let result = self
            .s
            .session
            .execute_unpaged(&p.RENAME_CONVERSATION, (&conv.title, &conv.id))
            .await
            .map_err(ScyllaError::from)?;
        if let Lwt::NotApplied(_) = applied(result)? {
            return Err(StoreError::NotFound(format!("conversation {}", conv.id)));
        }
        self.s
            .session
            .execute_unpaged(&p.SET_DESCRIPTION, (&conv.id, &conv.description))
            .await
            .map_err(ScyllaError::from)?;
        self.s
            .session
            .execute_unpaged(
                &p.SET_HISTORY_VISIBILITY,
                (&conv.id, conv.history_visibility),
            )
            .await
            .map_err(ScyllaError::from)?;
        Ok(())
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<pb::Conversation>> {
        let p = &self.s.prepared;
        let (row, description, visibility) = tokio::join!(
            self.s
                .first::<ConversationSelectRow>(&p.SELECT_CONVERSATION, (id,)),
            self.s
                .first::<(Option<String>,)>(&p.SELECT_DESCRIPTION, (id,)),
            self.s
                .first::<(Option<i32>,)>(&p.SELECT_HISTORY_VISIBILITY, (id,))
        );
        let description = description?.and_then(|(d,)| d).unwrap_or_default();
        let history_visibility = visibility?.and_then(|(v,)| v).unwrap_or_default();
        Ok(row?.map(|row| pb::Conversation {
            description,
            history_visibility,
            ..conversation_from_row(row)
        }))
    }

    async fn put_members(&self, conv: &str, members: &[pb::Member]) -> StoreResult<()> {
        if members.is_empty() {
            return Ok(());
        }
        let p = &self.s.prepared;
        // Both directions of membership change together (logged batch).
        let mut batch = Batch::new(BatchType::Logged);
        let mut values: Vec<Box<dyn SerializeRow + Send + Sync>> = Vec::new();
        for m in members {
            batch.append_statement(p.UPSERT_MEMBER.clone());
            values.push(Box::new((conv.to_string(), m.user_id.clone(), m.role)));
            batch.append_statement(p.INSERT_USER_CONVERSATION.clone());
            values.push(Box::new((m.user_id.clone(), conv.to_string())));
        }
        batch.set_is_idempotent(true);
        self.s
            .session
            .batch(&batch, values)
            .await
            .map_err(ScyllaError::from)?;
        Ok(())
    }

    async fn remove_member(&self, conv: &str, user: &str) -> StoreResult<()> {
        let p = &self.s.prepared;
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(p.DELETE_MEMBER.clone());
        batch.append_statement(p.DELETE_USER_CONVERSATION.clone());
        batch.set_is_idempotent(true);
        self.s
            .session
            .batch(&batch, ((conv, user), (user, conv)))
            .await
            .map_err(ScyllaError::from)?;
        Ok(())
    }

    async fn member(&self, conv: &str, user: &str) -> StoreResult<Option<pb::Member>> {
        let p = &self.s.prepared;
        let (row, mark) = tokio::join!(
            self.s
                .first::<(String, Option<i32>)>(&p.SELECT_MEMBER, (conv, user)),
            self.read_mark(conv, user)
        );
        let Some((user_id, role)) = row? else {
            return Ok(None);
        };
        Ok(Some(member_from_row(user_id, role, mark?)))
    }

    async fn members(&self, conv: &str) -> StoreResult<Vec<pb::Member>> {
        let p = &self.s.prepared;
        let (rows, marks) = tokio::join!(
            self.s
                .rows::<(String, Option<i32>)>(&p.SELECT_MEMBERS, (conv,)),
            self.s
                .rows::<(String, Option<i64>)>(&p.SELECT_READ_MARKS, (conv,))
        );
        let marks: HashMap<String, u64> = marks?
            .into_iter()
            .map(|(user, mark)| (user, read_mark_from_cql(mark)))
            .collect();
        Ok(rows?
            .into_iter()
            .map(|(user, role)| {
                let mark = marks.get(&user).copied().unwrap_or(0);
                member_from_row(user, role, mark)
            })
            .collect())
    }

    async fn user_conversations(&self, user: &str) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = self
            .s
            .rows(&self.s.prepared.SELECT_USER_CONVERSATIONS, (user,))
            .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    async fn lease_seqs(&self, conv: &str, n: u64) -> StoreResult<Range<u64>> {
        Ok(self.lease(conv, n).await?)
    }

    async fn redact(&self, events: &[pb::Event]) -> StoreResult<()> {
        // An INSERT of the same primary key replaces the row's cells; the
        // old values are dropped at the next compaction of that partition.
        // Only rows that exist are replaced (an insert would create one).
        for e in events {
            let range = ReadRange {
                from: e.seq,
                to: e.seq,
                limit: 1,
                backward: false,
            };
            if self.read_range(&e.conversation_id, range).await?.is_empty() {
                continue;
            }
            self.s
                .session
                .execute_unpaged(&self.s.prepared.INSERT_EVENT, event_to_row(e)?)
                .await
                .map_err(ScyllaError::from)?;
        }
        Ok(())
    }

    async fn append(&self, events: &[pb::Event]) -> StoreResult<()> {
        // The storage service appends one event per call; a multi-event call
        // is written event by event (each all-or-none), in order.
        for e in events {
            self.append_one(e).await?;
        }
        Ok(())
    }

    async fn dedup_lookup(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> StoreResult<Option<u64>> {
        if client_msg_id.is_empty() {
            return Ok(None);
        }
        let row: Option<(Option<i64>,)> = self
            .s
            .first(&self.s.prepared.SELECT_DEDUP, (conv, sender, client_msg_id))
            .await?;
        Ok(row.and_then(|(s,)| s).map(seq_from_cql).transpose()?)
    }

    async fn read_range(&self, conv: &str, range: ReadRange) -> StoreResult<Vec<pb::Event>> {
        Ok(self.read(conv, range).await?)
    }

    async fn reactions(&self, conv: &str, target: u64) -> StoreResult<Vec<ReactionRow>> {
        let target = seq_to_cql(target).map_err(StoreError::from)?;
        let rows: Vec<(String, String, Option<i64>)> = self
            .s
            .rows(&self.s.prepared.SELECT_REACTIONS, (conv, target))
            .await?;
        let mut out = rows
            .into_iter()
            .map(|(emoji, user_id, seq)| {
                Ok(ReactionRow {
                    emoji,
                    user_id,
                    seq: seq.map(seq_from_cql).transpose()?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, ScyllaError>>()?;
        out.sort_unstable_by_key(|r| r.seq);
        Ok(out)
    }

    async fn thread_rows(&self, conv: &str, (from, to): (u64, u64)) -> StoreResult<Vec<ThreadRow>> {
        let mut out = Vec::new();
        for slice in slices(from, to, false) {
            let values = (
                conv,
                seq_to_cql(slice.bucket)?,
                seq_to_cql(slice.from)?,
                seq_to_cql(slice.to)?,
            );
            let rows: Vec<(i64, i64, Option<String>)> = self
                .s
                .rows(&self.s.prepared.SELECT_THREAD_REPLIES, values)
                .await?;
            for (root, seq, sender) in rows {
                out.push(ThreadRow {
                    root_seq: seq_from_cql(root)?,
                    seq: seq_from_cql(seq)?,
                    sender_id: sender.unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    async fn pins(&self, conv: &str) -> StoreResult<Vec<PinRow>> {
        let rows: Vec<(i64, Option<String>, Option<i64>)> =
            self.s.rows(&self.s.prepared.SELECT_PINS, (conv,)).await?;
        let mut out = rows
            .into_iter()
            .map(|(target, by, seq)| {
                Ok(PinRow {
                    target_seq: seq_from_cql(target)?,
                    pinned_by: by.unwrap_or_default(),
                    seq: seq.map(seq_from_cql).transpose()?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, ScyllaError>>()?;
        out.sort_unstable_by_key(|r| r.seq);
        Ok(out)
    }

    async fn head(&self, conv: &str) -> StoreResult<u64> {
        Ok(self.head_of(conv).await?)
    }

    async fn set_joined(&self, conv: &str, user: &str, seq: u64) -> StoreResult<()> {
        let seq = seq_to_cql(seq).map_err(StoreError::from)?;
        self.s
            .session
            .execute_unpaged(&self.s.prepared.SET_JOINED, (conv, user, seq))
            .await
            .map_err(ScyllaError::from)?;
        Ok(())
    }

    async fn joined(&self, conv: &str, user: &str) -> StoreResult<u64> {
        let row: Option<(Option<i64>,)> = self
            .s
            .first(&self.s.prepared.SELECT_JOINED, (conv, user))
            .await?;
        Ok(row
            .and_then(|(s,)| s)
            .map(seq_from_cql)
            .transpose()?
            .unwrap_or(0))
    }

    async fn settings(&self, conv: &str, user: &str) -> StoreResult<pb::ConversationSettings> {
        let row: Option<(Option<Vec<u8>>,)> = self
            .s
            .first(&self.s.prepared.SELECT_SETTINGS, (conv, user))
            .await?;
        match row.and_then(|(b,)| b) {
            Some(bytes) => prost::Message::decode(bytes.as_slice())
                .map_err(|e| StoreError::Corrupt(e.to_string())),
            None => Ok(pb::ConversationSettings::default()),
        }
    }

    async fn put_settings(
        &self,
        conv: &str,
        user: &str,
        settings: &pb::ConversationSettings,
    ) -> StoreResult<()> {
        let bytes = prost::Message::encode_to_vec(settings);
        self.s
            .session
            .execute_unpaged(&self.s.prepared.PUT_SETTINGS, (conv, user, bytes))
            .await
            .map_err(ScyllaError::from)?;
        Ok(())
    }

    async fn set_read(&self, conv: &str, user: &str, seq: u64) -> StoreResult<u64> {
        let p = &self.s.prepared;
        let (member, current) = tokio::join!(
            self.s
                .first::<(String, Option<i32>)>(&p.SELECT_MEMBER, (conv, user)),
            self.read_mark(conv, user)
        );
        if member?.is_none() {
            return Ok(0);
        }
        let current = current?;
        if seq > current {
            let s = seq_to_cql(seq).map_err(StoreError::from)?;
            // USING TIMESTAMP = seq: the highest watermark wins, whatever
            // order concurrent receipts arrive in.
            self.s
                .session
                .execute_unpaged(&p.RAISE_READ_MARK, (conv, user, s, s))
                .await
                .map_err(ScyllaError::from)?;
        }
        Ok(current.max(seq))
    }

    async fn write_records(&self, writes: Vec<RecordWrite>) -> StoreResult<()> {
        let p = &self.s.prepared;
        let mut batch = Batch::new(BatchType::Logged);
        let mut values: Vec<Box<dyn SerializeRow + Send + Sync>> = Vec::new();
        for w in writes {
            match w {
                RecordWrite::Put(k, v) => {
                    batch.append_statement(p.PUT_RECORD.clone());
                    values.push(Box::new((i32::from(k.kind.code()), k.scope, k.id, v)));
                }
                RecordWrite::Delete(k) => {
                    batch.append_statement(p.DELETE_RECORD.clone());
                    values.push(Box::new((i32::from(k.kind.code()), k.scope, k.id)));
                }
            }
        }
        if values.is_empty() {
            return Ok(());
        }
        batch.set_is_idempotent(true);
        self.s
            .session
            .batch(&batch, values)
            .await
            .map_err(ScyllaError::from)?;
        Ok(())
    }

    async fn record(&self, key: &RecordKey) -> StoreResult<Option<Vec<u8>>> {
        let row: Option<(Option<Vec<u8>>,)> = self
            .s
            .first(
                &self.s.prepared.SELECT_RECORD,
                (
                    i32::from(key.kind.code()),
                    key.scope.as_str(),
                    key.id.as_str(),
                ),
            )
            .await?;
        Ok(row.map(|(v,)| v.unwrap_or_default()))
    }

    async fn records(
        &self,
        kind: RecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let rows: Vec<(String, Option<Vec<u8>>)> = self
            .s
            .rows(
                &self.s.prepared.SELECT_RECORDS,
                (i32::from(kind.code()), scope, after, limit),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, v)| (id, v.unwrap_or_default()))
            .collect())
    }
}
