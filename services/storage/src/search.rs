//! Full-text search of the conversations this instance owns.
//!
//! The index (parley-search, on local disk) follows the timeline: a commit
//! tells the indexer which conversation grew; every half second it reads
//! what is new from the store (from the seq it last indexed, recorded per
//! conversation under the index's generation) and applies it: a message
//! adds a document, an edit replaces it, a delete removes it. A restart
//! picks up where the marks say, and a new or lost index (a new generation)
//! starts every conversation over at its next event. Queries are scoped
//! here, by membership and history visibility, never by the index.

use crate::access::{require_member, user_caller};
use crate::handlers::Handlers;
use parking_lot::Mutex;
use parley_core::ids::validate_id;
use parley_core::routing::{DEFAULT_SEARCH_HITS, MAX_SEARCH_HITS};
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{ReadRange, RecordKey, RecordKind, RecordWrite, TimelineStore};
use parley_proto::v1 as pb;
use parley_search::{Change, Doc, Query, Scope, SearchIndex};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

/// How long changes gather before they are indexed (one index commit for
/// all conversations, one store write for all their marks).
const BATCH_EVERY: Duration = Duration::from_millis(1000);
/// Events read from the store per step of catching a conversation up.
const READ_PAGE: usize = 500;
/// Longest query, in characters.
const MAX_QUERY_CHARS: usize = 500;
/// How often the segments holding deleted or edited messages' old text are
/// rewritten (so that text leaves the index's files within this long).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub(crate) struct Indexer {
    index: Arc<SearchIndex>,
    store: Arc<dyn TimelineStore>,
    /// Conversations with new events: the highest seq committed.
    dirty: Mutex<HashMap<String, u64>>,
    /// Where each conversation is indexed up to (its record, cached).
    marks: Mutex<HashMap<String, u64>>,
    wake: Notify,
    /// A deletion or an edit was indexed since the last purge.
    stale: AtomicBool,
    /// Ends the indexing task (when the service that started it is dropped).
    stop: CancellationToken,
}

fn mark_key(generation: &str, conv: &str) -> RecordKey {
    RecordKey::new(RecordKind::SearchMark, &format!("g-{generation}"), conv)
}

fn seq_of(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

impl Indexer {
    /// Starts indexing in the background (first catching up on what the
    /// marks say is missing).
    /// The returned guard stops the task when dropped, and the handle says
    /// when it has (what was not indexed by then is caught up at the next
    /// start, from the marks).
    pub(crate) fn start(
        index: Arc<SearchIndex>,
        store: Arc<dyn TimelineStore>,
    ) -> (Arc<Self>, DropGuard, tokio::task::JoinHandle<()>) {
        let stop = CancellationToken::new();
        let indexer = Arc::new(Self {
            index,
            store,
            dirty: Mutex::new(HashMap::new()),
            marks: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            stale: AtomicBool::new(false),
            stop: stop.clone(),
        });
        let run = indexer.clone();
        let task = tokio::spawn(async move {
            let work = async {
                if let Err(e) = run.catch_up().await {
                    tracing::warn!(error = %e, "search: catching up failed; conversations are indexed at their next event");
                }
                tokio::join!(run.clone().run(), run.purge_now_and_then());
            };
            tokio::select! {
                () = work => {}
                () = run.stop.cancelled() => {}
            }
        });
        (indexer, stop.drop_guard(), task)
    }

    pub(crate) fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// After a commit: an event that changes text (or starts a
    /// conversation, so that it gets a mark) is for the index.
    pub(crate) fn committed(search: Option<&Arc<Self>>, e: &pb::Event) {
        if let Some(ix) = search
            && matches!(
                e.body,
                Some(
                    pb::event::Body::Message(_)
                        | pb::event::Body::Edit(_)
                        | pb::event::Body::Delete(_)
                        | pb::event::Body::Created(_)
                )
            )
        {
            ix.touched(&e.conversation_id, e.seq);
        }
    }

    /// `conv` has events up to `seq` (called after each commit).
    pub(crate) fn touched(&self, conv: &str, seq: u64) {
        let mut d = self.dirty.lock();
        let e = d.entry(conv.to_string()).or_insert(0);
        *e = (*e).max(seq);
        drop(d);
        self.wake.notify_one();
    }

    async fn catch_up(&self) -> ServiceResult<()> {
        let scope = format!("g-{}", self.index.generation());
        let marks = self
            .store
            .records(RecordKind::SearchMark, &scope, "", usize::MAX)
            .await?;
        for (conv, mark) in marks {
            let head = self.store.head(&conv).await?;
            if head > seq_of(&mark) {
                self.touched(&conv, head);
            }
        }
        Ok(())
    }

    async fn run(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            tokio::time::sleep(BATCH_EVERY).await;
            let batch: Vec<(String, u64)> = self.dirty.lock().drain().collect();
            if let Err(e) = self.index_batch(&batch).await {
                tracing::warn!(error = %e, "search: indexing failed; retried");
                for (conv, upto) in batch {
                    self.touched(&conv, upto);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// Every `PURGE_EVERY`, if anything was deleted or edited since the
    /// last time, rewrites the index segments still holding old text.
    async fn purge_now_and_then(&self) {
        let mut every = tokio::time::interval(PURGE_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            if !self.stale.swap(false, Ordering::Relaxed) {
                continue;
            }
            let index = self.index.clone();
            match tokio::task::spawn_blocking(move || index.purge_deleted()).await {
                Ok(Ok(n)) => tracing::debug!(segments = n, "search: purged deleted text"),
                Ok(Err(e)) => {
                    self.stale.store(true, Ordering::Relaxed);
                    tracing::warn!(error = %e, "search: purging deleted text failed; retried");
                }
                Err(e) => tracing::warn!(error = %e, "search: purge task failed"),
            }
        }
    }

    /// Where `conv` was indexed up to (cached; read once from its record).
    async fn mark_of(&self, conv: &str) -> ServiceResult<u64> {
        if let Some(m) = self.marks.lock().get(conv) {
            return Ok(*m);
        }
        let key = mark_key(self.index.generation(), conv);
        Ok(self.store.record(&key).await?.map_or(0, |b| seq_of(&b)))
    }

    /// Indexes every conversation of the batch from its mark up to what
    /// was committed, in one index commit, then moves all their marks in
    /// one store write (a commit per conversation cost more than the
    /// messages themselves).
    async fn index_batch(&self, batch: &[(String, u64)]) -> ServiceResult<()> {
        let mut changes = Vec::new();
        let mut marks = Vec::with_capacity(batch.len());
        for (conv, upto) in batch {
            let mut mark = self.mark_of(conv).await?;
            while mark < *upto {
                let events = self
                    .store
                    .read_range(
                        conv,
                        ReadRange {
                            from: mark + 1,
                            to: *upto,
                            limit: READ_PAGE,
                            backward: false,
                        },
                    )
                    .await?;
                let full = events.len() == READ_PAGE;
                let last = events.last().map_or(*upto, |e| e.seq);
                for e in events {
                    if let Some(c) = self.change_of(conv, e).await? {
                        changes.push(c);
                    }
                }
                // A short page reached the end of what is written.
                mark = if full { last } else { *upto };
            }
            marks.push((conv.clone(), mark));
        }
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.apply(&changes))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let generation = self.index.generation();
        let writes = marks
            .iter()
            .map(|(conv, mark)| {
                RecordWrite::Put(mark_key(generation, conv), mark.to_be_bytes().to_vec())
            })
            .collect();
        self.store.write_records(writes).await?;
        self.marks.lock().extend(marks);
        Ok(())
    }

    async fn change_of(&self, conv: &str, e: pb::Event) -> ServiceResult<Option<Change>> {
        Ok(match e.body {
            Some(pb::event::Body::Message(m)) => Some(Change::Put(Doc {
                conversation_id: conv.to_string(),
                seq: e.seq,
                sender_id: e.sender_id,
                sent_at_ms: e.sent_at_ms,
                text: m.text,
            })),
            Some(pb::event::Body::Edit(edit)) => {
                self.stale.store(true, Ordering::Relaxed);
                let original = self
                    .store
                    .read_range(
                        conv,
                        ReadRange {
                            from: edit.target_seq,
                            to: edit.target_seq,
                            limit: 1,
                            backward: false,
                        },
                    )
                    .await?
                    .pop()
                    // A deleted (redacted) message stays out of the index.
                    .filter(|o| matches!(o.body, Some(pb::event::Body::Message(_))));
                original.map(|o| {
                    Change::Put(Doc {
                        conversation_id: conv.to_string(),
                        seq: o.seq,
                        sender_id: o.sender_id,
                        sent_at_ms: o.sent_at_ms,
                        text: edit.text,
                    })
                })
            }
            Some(pb::event::Body::Delete(d)) => {
                self.stale.store(true, Ordering::Relaxed);
                Some(Change::Remove {
                    conversation_id: conv.to_string(),
                    seq: d.target_seq,
                })
            }
            _ => None,
        })
    }
}

impl Handlers {
    pub(crate) async fn search(
        &self,
        req: pb::UserSearchRequest,
    ) -> ServiceResult<pb::SearchReply> {
        let user = user_caller(req.caller.as_ref())?;
        let r = req
            .request
            .ok_or_else(|| ServiceError::InvalidArgument("request is required".into()))?;
        let Some(indexer) = &self.search else {
            return Err(ServiceError::Unavailable(
                "search is switched off on this server (storage.search)".into(),
            ));
        };
        let text = r.query.trim();
        if text.is_empty() {
            return Err(ServiceError::InvalidArgument("the query is empty".into()));
        }
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(ServiceError::InvalidArgument(format!(
                "the query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        if r.limit > MAX_SEARCH_HITS {
            return Err(ServiceError::InvalidArgument(format!(
                "limit is above {MAX_SEARCH_HITS}"
            )));
        }
        if !r.sender_id.is_empty() {
            validate_id("sender_id", &r.sender_id)?;
        }
        let conversations = if r.conversation_id.is_empty() {
            self.store.user_conversations(&user).await?
        } else {
            require_member(&*self.store, &r.conversation_id, &user).await?;
            vec![r.conversation_id.clone()]
        };
        let mut scopes = Vec::with_capacity(conversations.len());
        for conv in conversations {
            let Ok(meta) = self.conversation_meta(&conv).await else {
                continue;
            };
            let from_seq = self.visible_from(&meta, &user).await?;
            scopes.push(Scope {
                conversation_id: conv,
                from_seq,
            });
        }
        let query = Query {
            text: text.to_string(),
            scopes,
            sender_id: (!r.sender_id.is_empty()).then_some(r.sender_id),
            from_ms: (r.from_ms != 0).then_some(r.from_ms),
            to_ms: (r.to_ms != 0).then_some(r.to_ms),
            limit: match r.limit {
                0 => DEFAULT_SEARCH_HITS,
                n => n,
            } as usize,
            now_ms: now_ms(),
        };
        let indexer = indexer.clone();
        let hits = tokio::task::spawn_blocking(move || indexer.index().search(&query))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
        Ok(pb::SearchReply {
            hits: hits
                .into_iter()
                .map(|h| pb::SearchHit {
                    conversation_id: h.conversation_id,
                    seq: h.seq,
                    sender_id: h.sender_id,
                    sent_at_ms: h.sent_at_ms,
                    fragment: h.fragment,
                    highlights: h
                        .highlights
                        .into_iter()
                        .map(|(start, end)| pb::Highlight {
                            start: start as u32,
                            end: end as u32,
                        })
                        .collect(),
                    score: h.score,
                })
                .collect(),
        })
    }
}
