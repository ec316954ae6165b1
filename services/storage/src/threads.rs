//! Threads: replies grouped under a root message. A reply is an ordinary
//! message event of the conversation's timeline (its own seq, delivered and
//! synced like any other) that names its root; the store keeps a row per
//! reply beside it (`thread_rows`), from which a thread's summary and its
//! own page of replies are read. Each member has a read mark per thread.

use crate::access::{require_member, user_caller};
use crate::handlers::Handlers;
use crate::pages::page_limit;
use crate::timeline::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{RecordKey, RecordKind, RecordWrite, ThreadRow};
use parley_proto::v1 as pb;
use std::collections::BTreeMap;

/// Participants named in a summary.
const MAX_PARTICIPANTS: usize = 10;

fn read_key(conv: &str, user: &str, root: u64) -> RecordKey {
    RecordKey::new(RecordKind::ThreadRead, conv, &format!("{user}/{root:020}"))
}

fn decode_mark(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

impl Handlers {
    /// A reply's root: a message of `conv` that is not itself in a thread.
    pub(crate) async fn check_thread_root(&self, conv: &str, root: u64) -> ServiceResult<()> {
        let target = self.target_message(conv, root).await?;
        if let Some(pb::event::Body::Message(m)) = &target.body
            && m.thread_root_seq != 0
        {
            return Err(ServiceError::InvalidArgument(format!(
                "seq {root} is a reply in a thread: reply in its root's thread ({})",
                m.thread_root_seq
            )));
        }
        Ok(())
    }

    /// The summaries of the threads under `events` (messages outside
    /// threads that have replies), as of `head`, with `reader`'s marks.
    pub(crate) async fn threads_of(
        &self,
        conv: &str,
        events: &[pb::Event],
        head: u64,
        reader: &str,
    ) -> ServiceResult<Vec<pb::ThreadSummary>> {
        let roots: Vec<u64> = events
            .iter()
            // A deleted root keeps its thread (its replies stay).
            .filter(|e| match &e.body {
                Some(pb::event::Body::Message(m)) => m.thread_root_seq == 0,
                Some(pb::event::Body::Redacted(r)) => !r.edit && r.thread_root_seq == 0,
                _ => false,
            })
            .map(|e| e.seq)
            .collect();
        let (Some(first), Some(last)) = (roots.first(), roots.last()) else {
            return Ok(Vec::new());
        };
        let rows = self.store.thread_rows(conv, (*first, *last)).await?;
        let mut by_root: BTreeMap<u64, Vec<ThreadRow>> = BTreeMap::new();
        for r in rows
            .into_iter()
            .filter(|r| r.seq <= head && roots.binary_search(&r.root_seq).is_ok())
        {
            by_root.entry(r.root_seq).or_default().push(r);
        }
        let mut out = Vec::with_capacity(by_root.len());
        for (root, replies) in by_root {
            out.push(self.summary(conv, root, &replies, reader).await?);
        }
        Ok(out)
    }

    async fn summary(
        &self,
        conv: &str,
        root: u64,
        replies: &[ThreadRow],
        reader: &str,
    ) -> ServiceResult<pb::ThreadSummary> {
        let read_seq = self
            .store
            .record(&read_key(conv, reader, root))
            .await?
            .map_or(0, |b| decode_mark(&b));
        let mut participant_ids: Vec<String> = Vec::new();
        for r in replies {
            if participant_ids.len() < MAX_PARTICIPANTS && !participant_ids.contains(&r.sender_id) {
                participant_ids.push(r.sender_id.clone());
            }
        }
        let last = replies.last();
        let last_reply_at_ms = match last {
            Some(r) => self
                .read_event(conv, r.seq)
                .await?
                .map_or(0, |e| e.sent_at_ms),
            None => 0,
        };
        Ok(pb::ThreadSummary {
            root_seq: root,
            reply_count: replies.len() as u32,
            last_reply_seq: last.map_or(0, |r| r.seq),
            last_reply_at_ms,
            participant_ids,
            read_seq,
            unread_count: replies
                .iter()
                .filter(|r| r.seq > read_seq && r.sender_id != reader)
                .count() as u32,
        })
    }

    /// A page of one thread's replies (history with `thread_root_seq`):
    /// the replies with seqs in [from, to], oldest first (newest `limit`
    /// when `backward`).
    pub(crate) async fn thread_history(
        &self,
        h: pb::HistoryRequest,
        head: u64,
        visible_from: u64,
    ) -> ServiceResult<pb::HistoryReply> {
        let conv = h.conversation_id.as_str();
        let root = h.thread_root_seq;
        self.check_thread_root(conv, root).await?;
        let limit = page_limit("history", h.limit, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT)?;
        let from = h.from_seq.max(root + 1).max(visible_from);
        let to = if h.to_seq == 0 {
            head
        } else {
            h.to_seq.min(head)
        };
        let mut rows: Vec<ThreadRow> = self
            .store
            .thread_rows(conv, (root, root))
            .await?
            .into_iter()
            .filter(|r| r.seq >= from && r.seq <= to)
            .collect();
        let has_more = rows.len() > limit;
        if h.backward {
            rows.drain(..rows.len().saturating_sub(limit));
        } else {
            rows.truncate(limit);
        }
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            // Deleted replies too: the client shows them as deleted.
            events.extend(self.read_event(conv, r.seq).await?);
        }
        let (covered_from, covered_to) = match (h.backward, has_more) {
            (false, true) => (from, rows.last().map_or(to, |r| r.seq)),
            (true, true) => (rows.first().map_or(from, |r| r.seq), to),
            (_, false) => (from, to),
        };
        let reactions = self.reactions_of(conv, &events, head).await?;
        Ok(pb::HistoryReply {
            conversation_id: conv.to_string(),
            events,
            skipped: Vec::new(),
            covered_from,
            covered_to,
            head_seq: head,
            has_more,
            visible_from,
            reactions: reactions.into_iter().flatten().collect(),
            threads: Vec::new(),
        })
    }

    /// Raises the caller's read mark in one thread (never lowers it).
    pub(crate) async fn mark_thread_read(
        &self,
        req: &pb::MarkReadRequest,
    ) -> ServiceResult<pb::ReadState> {
        let reader = user_caller(req.caller.as_ref())?;
        let conv = req.conversation_id.as_str();
        require_member(&*self.store, conv, &reader).await?;
        self.check_thread_root(conv, req.thread_root_seq).await?;
        let head = self.sequencer.stable_head(conv).await?;
        let key = read_key(conv, &reader, req.thread_root_seq);
        let before = self
            .store
            .record(&key)
            .await?
            .map_or(0, |b| decode_mark(&b));
        let read_seq = before.max(req.seq.min(head));
        if read_seq > before {
            self.store
                .write_records(vec![RecordWrite::Put(key, read_seq.to_be_bytes().to_vec())])
                .await?;
        }
        // A thread's mark is the reader's own: no receipt for the others.
        Ok(pb::ReadState {
            conversation_id: req.conversation_id.clone(),
            user_id: reader,
            read_seq,
            raised: false,
        })
    }
}
