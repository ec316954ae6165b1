//! The full-text index of messages on local disk (tantivy).
//!
//! One document per message that can be found: its current text (an edit
//! replaces the document, a delete removes it), keyed by conversation and
//! seq. A query names the scopes the caller may read (each conversation
//! they are in, from the first seq they may read): the index never decides
//! who may see what, the storage service that owns the conversations does.
//! Ranking is relevance (BM25, every word required) weighted by recency.

use parking_lot::Mutex;
use std::ops::Bound;
use std::path::Path;
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, Occur, Query as TantivyQuery, QueryParser, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, TantivyDocument, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader, Term, doc,
};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(String),
    #[error("invalid query: {0}")]
    Query(String),
}

pub type SearchResult<T> = Result<T, SearchError>;

/// A message as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub conversation_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub sent_at_ms: i64,
    pub text: String,
}

/// A change to the index: a message (new, or its edited text) or its removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put(Doc),
    Remove { conversation_id: String, seq: u64 },
}

/// Where the caller may read: a conversation, from this seq on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub conversation_id: String,
    pub from_seq: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Words to find (all of them; "quoted phrases" and -exclusions work).
    pub text: String,
    pub scopes: Vec<Scope>,
    pub sender_id: Option<String>,
    /// Sent at or after / before these times (ms), when set.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: usize,
    /// The time "now" for recency (ms).
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub conversation_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub sent_at_ms: i64,
    pub score: f32,
    /// A piece of the text around the matches, and the byte ranges of the
    /// matched words in it.
    pub fragment: String,
    pub highlights: Vec<(usize, usize)>,
}

/// Nice value of the index's writer threads (as the storage engine's own
/// background threads).
const BACKGROUND_NICE: i32 = 10;

/// Characters of text around the matches in a hit.
const FRAGMENT_CHARS: usize = 160;
/// The writer's memory before it flushes a segment (tantivy's minimum is 15 MB).
const WRITER_BYTES: usize = 32 << 20;

struct Fields {
    key: Field,
    conversation: Field,
    seq: Field,
    sender: Field,
    at: Field,
    text: Field,
}

pub struct SearchIndex {
    index: Index,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    f: Fields,
    generation: String,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        key: b.add_text_field("key", STRING),
        conversation: b.add_text_field("conversation", STRING | STORED),
        seq: b.add_u64_field("seq", INDEXED | STORED | FAST),
        sender: b.add_text_field("sender", STRING | STORED),
        at: b.add_i64_field("at", INDEXED | STORED | FAST),
        text: b.add_text_field("text", TEXT | STORED),
    };
    (b.build(), f)
}

fn key(conversation_id: &str, seq: u64) -> String {
    format!("{conversation_id}/{seq}")
}

/// The weight of a message `age_ms` old: 1 today, falling towards 0.5 over
/// months (a month: 0.68), so relevance leads and recency breaks near-ties.
fn recency(age_ms: i64) -> Score {
    let days = (age_ms.max(0) as f64) / 86_400_000.0;
    (0.5 + 0.5 * (-days / 30.0).exp()) as Score
}

impl SearchIndex {
    /// Opens the index in `dir` (created, owner-only, if missing).
    pub fn open(dir: &Path) -> SearchResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Directory(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| SearchError::Directory(e.to_string()))?;
        }
        let (schema, f) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| SearchError::Directory(e.to_string()))?;
        let index = Index::open_or_create(directory, schema)?;
        Self::with(index, f)
    }

    /// An index in memory (tests).
    pub fn in_memory() -> SearchResult<Self> {
        let (schema, f) = schema();
        Self::with(Index::create_in_ram(schema), f)
    }

    fn with(index: Index, f: Fields) -> SearchResult<Self> {
        // The writer's indexing and merge threads start here and inherit a
        // lower priority: indexing is background work, and on a busy
        // machine it must take the CPU deliveries leave, not theirs
        // (measured: at 30,000 deliveries/s on 2 cores, indexing at normal
        // priority tripled the delivery p99).
        let mut writer: IndexWriter = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("parley-search-open".into())
                .spawn_scoped(s, || {
                    if let Err(e) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
                        tracing::warn!(error = %e, "could not lower the search indexer's priority");
                    }
                    index.writer_with_num_threads(1, WRITER_BYTES)
                })
                .map(|h| h.join())
        })
        .map_err(|e| SearchError::Directory(format!("cannot start a thread: {e}")))?
        .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        // The generation names this very index: kept in every commit, new
        // when the index is (an empty or lost directory starts over).
        let generation = match index.load_metas()?.payload {
            Some(g) if !g.is_empty() => g,
            _ => {
                let g = uuid::Uuid::new_v4().simple().to_string();
                let mut prepared = writer.prepare_commit()?;
                prepared.set_payload(&g);
                prepared.commit()?;
                g
            }
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            writer: Mutex::new(writer),
            reader,
            f,
            generation,
        })
    }

    /// This index's identity: whatever is recorded as indexed elsewhere
    /// must be recorded under it, so a new (or lost and recreated) index
    /// is refilled rather than trusted.
    pub fn generation(&self) -> &str {
        &self.generation
    }

    /// Applies changes and commits them (durable, and searchable on return).
    pub fn apply(&self, changes: &[Change]) -> SearchResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut w = self.writer.lock();
        for c in changes {
            match c {
                Change::Put(d) => {
                    w.delete_term(Term::from_field_text(
                        self.f.key,
                        &key(&d.conversation_id, d.seq),
                    ));
                    w.add_document(doc!(
                        self.f.key => key(&d.conversation_id, d.seq),
                        self.f.conversation => d.conversation_id.as_str(),
                        self.f.seq => d.seq,
                        self.f.sender => d.sender_id.as_str(),
                        self.f.at => d.sent_at_ms,
                        self.f.text => d.text.as_str(),
                    ))?;
                }
                Change::Remove {
                    conversation_id,
                    seq,
                } => {
                    w.delete_term(Term::from_field_text(
                        self.f.key,
                        &key(conversation_id, *seq),
                    ));
                }
            }
        }
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&self.generation);
        prepared.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Rewrites the segments that still hold removed or replaced messages
    /// (a deletion only marks a document; its stored text stays in the
    /// segment's files until the segment is rewritten), then deletes the
    /// files nothing uses any more: afterwards the text of a deleted or
    /// edited message is in no file of the index. Returns the segments
    /// rewritten. Costs a rewrite of each such segment: run it now and
    /// then, not per deletion. Blocks while it merges.
    pub fn purge_deleted(&self) -> SearchResult<usize> {
        self.reader.reload()?;
        let stale: Vec<tantivy::index::SegmentId> = self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .filter(|s| s.num_deleted_docs() > 0)
            .map(|s| s.segment_id())
            .collect();
        let mut rewritten = 0;
        let mut w = self.writer.lock();
        for id in &stale {
            // A segment already in a background merge is skipped: that
            // merge drops its deleted documents too.
            match w.merge(&[*id]).wait() {
                Ok(_) => rewritten += 1,
                Err(e) => tracing::debug!(error = %e, "search: segment not rewritten now"),
            }
        }
        drop(w);
        // Let go of the old segments before collecting their files.
        self.reader.reload()?;
        self.writer.lock().garbage_collect_files().wait()?;
        Ok(rewritten)
    }

    /// Messages indexed now (live documents), and the index's bytes on disk.
    pub fn stats(&self) -> (u64, u64) {
        let searcher = self.reader.searcher();
        let docs = searcher.num_docs();
        let bytes = searcher
            .segment_readers()
            .iter()
            .map(|s| s.space_usage().map_or(0, |u| u.total().get_bytes()))
            .sum();
        (docs, bytes)
    }

    pub fn search(&self, q: &Query) -> SearchResult<Vec<Hit>> {
        let words = q.text.trim();
        if words.is_empty() {
            return Err(SearchError::Query("the query has no words".into()));
        }
        if q.scopes.is_empty() || q.limit == 0 {
            return Ok(Vec::new());
        }
        let mut parser = QueryParser::for_index(&self.index, vec![self.f.text]);
        parser.set_conjunction_by_default();
        // Lenient: a stray quote or colon in what a person typed is not an error.
        let (text_query, _) = parser.parse_query_lenient(words);
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = vec![
            (Occur::Must, text_query.box_clone()),
            (Occur::Must, self.scope_query(&q.scopes)),
        ];
        if let Some(sender) = &q.sender_id {
            let term = Term::from_field_text(self.f.sender, sender);
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            ));
        }
        if q.from_ms.is_some() || q.to_ms.is_some() {
            let lower = q.from_ms.map_or(Bound::Unbounded, |t| {
                Bound::Included(Term::from_field_i64(self.f.at, t))
            });
            let upper = q.to_ms.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_i64(self.f.at, t))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let now = q.now_ms;
        let collector = TopDocs::with_limit(q.limit).tweak_score(move |segment: &SegmentReader| {
            let at = segment
                .fast_fields()
                .i64("at")
                .map(|c| c.first_or_default_col(0))
                .ok();
            move |doc, score: Score| match &at {
                Some(col) => score * recency(now - col.get_val(doc)),
                None => score,
            }
        });
        let top: Vec<(Score, DocAddress)> = searcher.search(&query, &collector)?;
        let mut snippets = SnippetGenerator::create(&searcher, &*text_query, self.f.text)?;
        snippets.set_max_num_chars(FRAGMENT_CHARS);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let text_of = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let snippet = snippets.snippet_from_doc(&d);
            let (fragment, highlights) = if snippet.fragment().is_empty() {
                let text = text_of(self.f.text);
                (text.chars().take(FRAGMENT_CHARS).collect(), Vec::new())
            } else {
                (
                    snippet.fragment().to_string(),
                    snippet
                        .highlighted()
                        .iter()
                        .map(|r| (r.start, r.end))
                        .collect(),
                )
            };
            hits.push(Hit {
                conversation_id: text_of(self.f.conversation),
                seq: d
                    .get_first(self.f.seq)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0),
                sender_id: text_of(self.f.sender),
                sent_at_ms: d.get_first(self.f.at).and_then(|v| v.as_i64()).unwrap_or(0),
                score,
                fragment,
                highlights,
            });
        }
        Ok(hits)
    }

    /// Any of the scopes: whole conversations in one set, those readable
    /// from a later seq each with their bound.
    fn scope_query(&self, scopes: &[Scope]) -> Box<dyn TantivyQuery> {
        let whole: Vec<Term> = scopes
            .iter()
            .filter(|s| s.from_seq <= 1)
            .map(|s| Term::from_field_text(self.f.conversation, &s.conversation_id))
            .collect();
        let mut any: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        if !whole.is_empty() {
            any.push((Occur::Should, Box::new(TermSetQuery::new(whole))));
        }
        for s in scopes.iter().filter(|s| s.from_seq > 1) {
            let conv = Term::from_field_text(self.f.conversation, &s.conversation_id);
            let from = RangeQuery::new(
                Bound::Included(Term::from_field_u64(self.f.seq, s.from_seq)),
                Bound::Unbounded,
            );
            let both: Vec<(Occur, Box<dyn TantivyQuery>)> = vec![
                (
                    Occur::Must,
                    Box::new(TermQuery::new(conv, IndexRecordOption::Basic)),
                ),
                (Occur::Must, Box::new(from)),
            ];
            any.push((Occur::Should, Box::new(BooleanQuery::new(both))));
        }
        Box::new(BooleanQuery::new(any))
    }
}
