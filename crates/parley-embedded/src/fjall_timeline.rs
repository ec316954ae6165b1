//! The embedded timeline store on fjall, a log-structured (LSM) engine.
//!
//! Why not redb, like the auth store: a B-tree with copy-on-write pages
//! rewrites a whole 4 KiB leaf (and its branch path) for every conversation a
//! commit touches. With thousands of active conversations each message lands
//! in its own leaf, and the store wrote ~28 KB per message (measured: 84 MB/s
//! at 3,000 messages/s over 10,000 conversations, p50 ack 93 ms). An LSM
//! appends each commit to a journal (a few hundred bytes per message, one
//! fdatasync per group commit) and sorts in the background.
//!
//! Writes go through one writer thread that runs every job queued meanwhile
//! against an overlay of the batch's own writes (so jobs see each other, as
//! in one serial transaction), then commits the batch atomically with one
//! fdatasync of the journal before any caller hears back (group commit). A
//! job that fails leaves nothing in the batch.
//!
//! Keys: ids are `[A-Za-z0-9_-]` (validated before they reach storage), so a
//! NUL byte separates the parts of a composite key; seqs are big-endian so
//! byte order is seq order.

use async_trait::async_trait;
use fjall::{Database, Keyspace, PersistMode};
use parley_core::time::now_ms;
use parley_ports::{
    PinRow, ReactionRow, ReadRange, RecordKey, RecordKind, RecordWrite, StoreError, StoreResult,
    ThreadRow, TimelineStore,
};
use parley_proto::v1 as pb;
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

use crate::fjall_engine;
use crate::fjall_stats::{BatchPeaks, StatsThread};
use crate::member_cache::MemberCache;
use crate::writer_thread::{WriterThread, next_batch};

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn decode<M: Message + Default>(bytes: &[u8]) -> StoreResult<M> {
    M::decode(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The keyspaces, indexed by `Ks`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Ks {
    /// conversation -> Conversation
    Conversations = 0,
    /// conversation \0 user -> Member
    Members = 1,
    /// user \0 conversation -> (): the reverse index for sync
    UserConvs = 2,
    /// conversation -> first seq not yet leased (u64 BE)
    Leases = 3,
    /// conversation \0 seq (u64 BE) -> Event
    Events = 4,
    /// conversation \0 sender \0 client_msg_id -> seq (u64 BE)
    Dedup = 5,
    /// conversation \0 target seq (u64 BE) \0 emoji \0 user -> seq (u64 BE)
    /// of the reaction event (emoji are validated to hold no NUL)
    Reactions = 6,
    /// conversation \0 target seq (u64 BE) -> seq of the pin event (u64
    /// BE) followed by the user who pinned
    Pins = 7,
    /// conversation \0 user -> ConversationSettings (the member's own)
    Settings = 8,
    /// conversation \0 user -> seq (u64 BE) of the event that added them
    Joins = 9,
    /// kind (one byte) scope \0 id -> the record (see `RecordKind`)
    Records = 10,
    /// conversation \0 root seq (u64 BE) seq (u64 BE) -> sender: thread replies
    Threads = 11,
}

const KEYSPACES: [(Ks, &str); 12] = [
    (Ks::Conversations, "conversations"),
    (Ks::Members, "members"),
    (Ks::UserConvs, "user_conversations"),
    (Ks::Leases, "seq_leases"),
    (Ks::Events, "events"),
    (Ks::Dedup, "dedup"),
    (Ks::Reactions, "reactions"),
    (Ks::Pins, "pins"),
    (Ks::Settings, "member_settings"),
    (Ks::Joins, "member_joins"),
    (Ks::Records, "records"),
    (Ks::Threads, "thread_replies"),
];

/// The prefix of every record of one scope: its kind, the scope, a NUL
/// (ids hold none; checked, since a NUL would let one scope read another's).
fn records_prefix(kind: RecordKind, scope: &str) -> StoreResult<Vec<u8>> {
    if scope.contains('\0') {
        return Err(StoreError::Backend("a record scope holds a NUL".into()));
    }
    let mut k = vec![kind.code()];
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    Ok(k)
}

fn record_key(key: &RecordKey) -> StoreResult<Vec<u8>> {
    let mut k = records_prefix(key.kind, &key.scope)?;
    k.extend_from_slice(key.id.as_bytes());
    Ok(k)
}

fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

fn event_key(conv: &str, seq: u64) -> Vec<u8> {
    key(&[conv.as_bytes(), &seq.to_be_bytes()])
}

/// The prefix of every reaction row of one message.
fn reactions_prefix(conv: &str, target: u64) -> Vec<u8> {
    key(&[conv.as_bytes(), &target.to_be_bytes(), b""])
}

/// The reaction row an event writes or deletes, if it is a reaction.
fn reaction_write(e: &pb::Event) -> Option<(Vec<u8>, bool)> {
    let Some(pb::event::Body::Reaction(r)) = &e.body else {
        return None;
    };
    let mut k = reactions_prefix(&e.conversation_id, r.target_seq);
    k.extend_from_slice(&key(&[r.emoji.as_bytes(), e.sender_id.as_bytes()]));
    Some((k, r.remove))
}

/// The pin row an event writes (with its value) or deletes, if it is a pin.
fn pin_write(e: &pb::Event) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let Some(pb::event::Body::Pin(p)) = &e.body else {
        return None;
    };
    let k = event_key(&e.conversation_id, p.target_seq);
    let value = (!p.unpin).then(|| {
        let mut v = e.seq.to_be_bytes().to_vec();
        v.extend_from_slice(e.sender_id.as_bytes());
        v
    });
    Some((k, value))
}

fn thread_key(conv: &str, root: u64, seq: u64) -> Vec<u8> {
    let mut k = key(&[conv.as_bytes(), &root.to_be_bytes()]);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The thread row a message in a thread writes (key, sender).
fn thread_write(e: &pb::Event) -> Option<(Vec<u8>, Vec<u8>)> {
    let Some(pb::event::Body::Message(m)) = &e.body else {
        return None;
    };
    (m.thread_root_seq != 0).then(|| {
        (
            thread_key(&e.conversation_id, m.thread_root_seq, e.seq),
            e.sender_id.as_bytes().to_vec(),
        )
    })
}

/// A dedup key's value: the seq, then when it was written (ms since the
/// epoch). Values written before keys expired hold the seq alone.
fn dedup_value(seq: u64, at_ms: i64) -> Vec<u8> {
    let mut v = seq.to_be_bytes().to_vec();
    v.extend_from_slice(&at_ms.to_be_bytes());
    v
}

/// The seq of a dedup value, and when it was written if it says.
fn dedup_of(v: &[u8]) -> StoreResult<(u64, Option<i64>)> {
    match v.len() {
        8 => Ok((u64_of(v)?, None)),
        16 => Ok((u64_of(&v[..8])?, Some(u64_of(&v[8..])? as i64))),
        n => Err(StoreError::Corrupt(format!("dedup value of {n} bytes"))),
    }
}

fn u64_of(bytes: &[u8]) -> StoreResult<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

/// What a batch (or one job) has written so far, per keyspace: `None` is a
/// removal. One map per keyspace so a lookup borrows the key (no copy per
/// read on the writer thread).
#[derive(Default)]
struct Overlay([HashMap<Vec<u8>, Option<Vec<u8>>>; KEYSPACES.len()]);

impl Overlay {
    fn get(&self, k: Ks, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.0[k as usize].get(key)
    }

    fn set(&mut self, k: Ks, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.0[k as usize].insert(key, value);
    }

    fn merge(&mut self, other: Overlay) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            mine.extend(theirs);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(HashMap::is_empty)
    }
}

struct Shared {
    db: Database,
    keyspaces: Vec<Keyspace>,
    members: MemberCache,
    peaks: Arc<BatchPeaks>,
    /// How long a dedup key answers a retry (ms; 0: for ever).
    dedup_ttl_ms: std::sync::atomic::AtomicI64,
}

impl Shared {
    /// Whether a dedup key written at `at_ms` no longer answers.
    fn dedup_expired(&self, at_ms: Option<i64>, now: i64) -> bool {
        let ttl = self.dedup_ttl_ms.load(std::sync::atomic::Ordering::Relaxed);
        ttl > 0 && at_ms.is_some_and(|at| now.saturating_sub(at) > ttl)
    }
}

impl Shared {
    fn ks(&self, k: Ks) -> &Keyspace {
        &self.keyspaces[k as usize]
    }

    fn get(&self, k: Ks, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.ks(k).get(key).map_err(be)?.map(|v| v.to_vec()))
    }

    /// Every (key, value) under `prefix`, in key order.
    fn scan(&self, k: Ks, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.ks(k)
            .prefix(prefix)
            .map(|g| {
                let (k, v) = g.into_inner().map_err(be)?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }
}

/// One job's view inside the writer: reads see the job's own writes, then
/// the batch's, then the committed data.
pub(crate) struct Txn<'a> {
    shared: &'a Shared,
    batch: &'a Overlay,
    local: Overlay,
}

impl Txn<'_> {
    fn get(&self, k: Ks, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        if let Some(v) = self.local.get(k, key).or_else(|| self.batch.get(k, key)) {
            return Ok(v.clone());
        }
        self.shared.get(k, key)
    }

    fn put(&mut self, k: Ks, key: Vec<u8>, value: Vec<u8>) {
        self.local.set(k, key, Some(value));
    }

    fn remove(&mut self, k: Ks, key: Vec<u8>) {
        self.local.set(k, key, None);
    }
}

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// A write job runs against the batch and returns its own writes (if it
/// succeeded) and what to do once the commit outcome is known.
type Job = Box<dyn FnOnce(&Shared, &Overlay) -> (Option<Overlay>, Completion) + Send>;

/// How long a dedup key answers a retry unless configured (7 days, as
/// on ScyllaDB).
const DEFAULT_DEDUP_TTL_MS: i64 = 7 * 86_400_000;
/// Expired dedup keys are looked for a page at a time, this often.
const DEDUP_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
const DEDUP_SWEEP_PAGE: usize = 10_000;

/// Longest cached member list `member()` searches instead of reading the store.
const SCAN_CACHED_LIST_UP_TO: usize = 64;

struct Inner {
    /// Declared first: dropped (joined) before `shared`.
    writer: WriterThread<Job>,
    _stats: StatsThread,
    shared: Arc<Shared>,
}

/// Timeline store on an embedded fjall database (a directory).
#[derive(Clone)]
pub struct FjallTimelineStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FjallTimelineStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FjallTimelineStore")
    }
}

impl FjallTimelineStore {
    /// Opens (or creates) the store in directory `dir` with a block cache of
    /// at most `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> StoreResult<Self> {
        let db = fjall_engine::open(dir, cache_bytes)?;
        let mut keyspaces = Vec::with_capacity(KEYSPACES.len());
        for (i, (k, name)) in KEYSPACES.iter().enumerate() {
            debug_assert_eq!(*k as usize, i);
            let busy = matches!(k, Ks::Events | Ks::Dedup);
            keyspaces.push(fjall_engine::keyspace(&db, name, busy)?);
        }
        let peaks = Arc::new(BatchPeaks::default());
        let stats = StatsThread::spawn(
            db.clone(),
            KEYSPACES
                .iter()
                .map(|(_, name)| *name)
                .zip(keyspaces.iter().cloned())
                .collect(),
            peaks.clone(),
        )
        .map_err(be)?;
        let shared = Arc::new(Shared {
            db,
            keyspaces,
            members: MemberCache::new(),
            peaks,
            dedup_ttl_ms: std::sync::atomic::AtomicI64::new(DEFAULT_DEDUP_TTL_MS),
        });
        let writer_shared = shared.clone();
        let writer = WriterThread::spawn("parley-timeline-writer", move |rx| {
            writer_loop(&writer_shared, &rx);
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer,
                _stats: stats,
                shared,
            }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Whether nothing was ever stored (no seq lease was ever taken; for
    /// the import of an older redb timeline).
    pub fn is_empty(&self) -> StoreResult<bool> {
        self.shared().ks(Ks::Leases).is_empty().map_err(be)
    }

    /// How long a retried send still gets its original seq (0: for
    /// ever); and, with a tokio runtime, starts removing expired keys in
    /// the background (a page a second, for as long as the store is open).
    pub fn expire_dedup_keys(&self, ttl: std::time::Duration) {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.shared()
            .dedup_ttl_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
        if ms == 0 {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut cursor = Vec::new();
            loop {
                tokio::time::sleep(DEDUP_SWEEP_EVERY).await;
                // Only while the store is open: the sweep holds it no longer
                // than one step.
                let Some(inner) = weak.upgrade() else { return };
                let store = FjallTimelineStore { inner };
                match store.sweep_dedup(&cursor, DEDUP_SWEEP_PAGE).await {
                    Ok((_, next)) => cursor = next,
                    Err(e) => tracing::warn!(error = %e, "dedup expiry: a sweep step failed"),
                }
            }
        });
    }

    /// One step of removing expired dedup keys: reads up to `max_keys`
    /// keys after `after` (empty: from the start), removes those expired
    /// (checked again inside the write, so a key written meanwhile stays)
    /// and stamps keys from before expiry existed with the present (they
    /// expire a ttl from now). Returns the keys removed and where the next
    /// step starts (empty: the sweep went round).
    pub async fn sweep_dedup(
        &self,
        after: &[u8],
        max_keys: usize,
    ) -> StoreResult<(usize, Vec<u8>)> {
        let now = now_ms();
        let ks = self.shared().ks(Ks::Dedup);
        let rows = if after.is_empty() {
            ks.range::<&[u8], _>(..)
        } else {
            ks.range::<&[u8], _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
        };
        let mut stale = Vec::new();
        let mut scanned = 0;
        let mut last = Vec::new();
        for g in rows.take(max_keys) {
            let (k, v) = g.into_inner().map_err(be)?;
            scanned += 1;
            last = k.to_vec();
            let (_, at) = dedup_of(&v)?;
            if at.is_none() || self.shared().dedup_expired(at, now) {
                stale.push(k.to_vec());
            }
        }
        let next = if scanned == max_keys {
            last
        } else {
            Vec::new()
        };
        if stale.is_empty() {
            return Ok((0, next));
        }
        let removed = self
            .write(move |txn| {
                let mut removed = 0;
                for k in stale {
                    let Some(v) = txn.get(Ks::Dedup, &k)? else {
                        continue;
                    };
                    let (seq, at) = dedup_of(&v)?;
                    match at {
                        None => txn.put(Ks::Dedup, k, dedup_value(seq, now)),
                        Some(_) if txn.shared.dedup_expired(at, now) => {
                            txn.remove(Ks::Dedup, k);
                            removed += 1;
                        }
                        Some(_) => {}
                    }
                }
                Ok(removed)
            })
            .await?;
        if removed > 0 {
            metrics::counter!("parley_timeline_dedup_keys_expired_total").increment(removed as u64);
        }
        Ok((removed, next))
    }

    /// Writes every keyspace's memtable out and compacts each into a
    /// single run, so that replaced and removed values (a deleted
    /// message's content) are gone from the files, and the journals that
    /// held them are let go. Slow on a large store: for maintenance and
    /// for the tests that prove a deletion on the stored bytes.
    pub async fn compact_now(&self) -> StoreResult<()> {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || {
            for ks in &shared.keyspaces {
                ks.rotate_memtable_and_wait().map_err(be)?;
                ks.major_compact().map_err(be)?;
            }
            Ok(())
        })
        .await
        .map_err(be)?
    }

    /// Runs `f` in the next group commit; resolves after the durable commit.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Txn<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |shared, batch| {
            let mut txn = Txn {
                shared,
                batch,
                local: Overlay::default(),
            };
            let result = f(&mut txn);
            let writes = result.is_ok().then_some(txn.local);
            let done: Completion = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (writes, done)
        });
        self.inner.writer.send(job)?;
        rx.await
            .map_err(|_| StoreError::Unavailable("timeline writer stopped".into()))?
    }

    /// Writes rows as they are (the import of an older store), durably.
    pub(crate) async fn import(&self, rows: Vec<ImportRow>) -> StoreResult<()> {
        self.write(move |txn| {
            for row in rows {
                let (k, key, value) = match row {
                    ImportRow::Conversation(id, v) => (Ks::Conversations, id.into_bytes(), v),
                    ImportRow::Member(c, u, v) => {
                        (Ks::Members, key(&[c.as_bytes(), u.as_bytes()]), v)
                    }
                    ImportRow::UserConv(u, c) => (
                        Ks::UserConvs,
                        key(&[u.as_bytes(), c.as_bytes()]),
                        Vec::new(),
                    ),
                    ImportRow::Lease(c, next) => {
                        (Ks::Leases, c.into_bytes(), next.to_be_bytes().to_vec())
                    }
                    ImportRow::Event(c, seq, v) => (Ks::Events, event_key(&c, seq), v),
                    ImportRow::Dedup(c, s, m, seq) => (
                        Ks::Dedup,
                        key(&[c.as_bytes(), s.as_bytes(), m.as_bytes()]),
                        dedup_value(seq, now_ms()),
                    ),
                };
                txn.put(k, key, value);
            }
            Ok(())
        })
        .await
    }
}

/// What appending one event writes.
struct AppendRow {
    key: Vec<u8>,
    dedup: Option<Vec<u8>>,
    /// The reaction row, and whether the event removes it.
    reaction: Option<(Vec<u8>, bool)>,
    /// The pin row, and its value (None: the event unpins).
    pin: Option<(Vec<u8>, Option<Vec<u8>>)>,
    /// The thread row (key, sender) of a message in a thread.
    thread: Option<(Vec<u8>, Vec<u8>)>,
    seq: u64,
    bytes: Vec<u8>,
}

/// A row of an older store, for [`FjallTimelineStore::import`].
pub(crate) enum ImportRow {
    Conversation(String, Vec<u8>),
    Member(String, String, Vec<u8>),
    UserConv(String, String),
    Lease(String, u64),
    Event(String, u64, Vec<u8>),
    Dedup(String, String, String, u64),
}

fn writer_loop(shared: &Shared, rx: &mpsc::Receiver<Job>) {
    while let Some(jobs) = next_batch(rx) {
        let started = std::time::Instant::now();
        metrics::histogram!("parley_timeline_batch_jobs").record(jobs.len() as f64);
        let mut batch = Overlay::default();
        let mut completions = Vec::with_capacity(jobs.len());
        for job in jobs {
            let (writes, done) = job(shared, &batch);
            if let Some(w) = writes {
                batch.merge(w);
            }
            completions.push(done);
        }
        let ran = started.elapsed();
        let member_lists_written = conversations_of(&batch.0[Ks::Members as usize]);
        let outcome = commit(shared, batch);
        if !member_lists_written.is_empty() {
            shared
                .members
                .invalidate(member_lists_written.iter().map(Vec::as_slice));
        }
        metrics::histogram!("parley_timeline_batch_run_seconds").record(ran.as_secs_f64());
        let committed = started.elapsed() - ran;
        metrics::histogram!("parley_timeline_commit_seconds").record(committed.as_secs_f64());
        shared.peaks.run.record(ran);
        shared.peaks.commit.record(committed);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "timeline group commit failed");
        }
        for done in completions {
            done(match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            });
        }
    }
}

/// The conversations of member rows (keys are `conversation \0 user`).
fn conversations_of(rows: &HashMap<Vec<u8>, Option<Vec<u8>>>) -> HashSet<Vec<u8>> {
    rows.keys()
        .map(|k| {
            let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            k[..end].to_vec()
        })
        .collect()
}

fn commit(shared: &Shared, writes: Overlay) -> StoreResult<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut batch = shared.db.batch().durability(Some(PersistMode::SyncData));
    for (ks, map) in shared.keyspaces.iter().zip(writes.0) {
        for (key, value) in map {
            match value {
                Some(v) => batch.insert(ks, key, v),
                None => batch.remove(ks, key),
            }
        }
    }
    batch.commit().map_err(be)
}

#[async_trait]
impl TimelineStore for FjallTimelineStore {
    async fn create_conversation(&self, conv: &pb::Conversation) -> StoreResult<()> {
        let id = conv.id.clone();
        let mut meta = conv.clone();
        meta.members.clear();
        let bytes = meta.encode_to_vec();
        self.write(move |txn| {
            if txn.get(Ks::Conversations, id.as_bytes())?.is_some() {
                return Err(StoreError::AlreadyExists(format!("conversation {id}")));
            }
            txn.put(Ks::Conversations, id.into_bytes(), bytes);
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
        self.write(move |txn| {
            let Some(old) = txn.get(Ks::Conversations, id.as_bytes())? else {
                return Err(StoreError::NotFound(format!("conversation {id}")));
            };
            let meta = pb::Conversation {
                title,
                description,
                history_visibility,
                ..decode(&old)?
            };
            txn.put(Ks::Conversations, id.into_bytes(), meta.encode_to_vec());
            Ok(())
        })
        .await
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<pb::Conversation>> {
        self.shared()
            .get(Ks::Conversations, id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    async fn put_members(&self, conv: &str, members: &[pb::Member]) -> StoreResult<()> {
        let conv = conv.to_string();
        let members = members.to_vec();
        self.write(move |txn| {
            for m in members {
                let k = key(&[conv.as_bytes(), m.user_id.as_bytes()]);
                let read_seq = match txn.get(Ks::Members, &k)? {
                    Some(old) => decode::<pb::Member>(&old)?.read_seq,
                    None => 0,
                };
                let row = pb::Member {
                    read_seq,
                    ..m.clone()
                };
                txn.put(Ks::Members, k, row.encode_to_vec());
                txn.put(
                    Ks::UserConvs,
                    key(&[m.user_id.as_bytes(), conv.as_bytes()]),
                    Vec::new(),
                );
            }
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, conv: &str, user: &str) -> StoreResult<()> {
        let (conv, user) = (conv.to_string(), user.to_string());
        self.write(move |txn| {
            txn.remove(Ks::Members, key(&[conv.as_bytes(), user.as_bytes()]));
            txn.remove(Ks::UserConvs, key(&[user.as_bytes(), conv.as_bytes()]));
            Ok(())
        })
        .await
    }

    async fn member(&self, conv: &str, user: &str) -> StoreResult<Option<pb::Member>> {
        // Every send checks membership: answer from a cached list when it
        // is short enough that a scan beats a store lookup.
        if let Some(list) = self.shared().members.get(conv)
            && list.len() <= SCAN_CACHED_LIST_UP_TO
        {
            return Ok(list.iter().find(|m| m.user_id == user).cloned());
        }
        self.shared()
            .get(Ks::Members, &key(&[conv.as_bytes(), user.as_bytes()]))?
            .map(|v| decode(&v))
            .transpose()
    }

    async fn members(&self, conv: &str) -> StoreResult<Vec<pb::Member>> {
        let cache = &self.shared().members;
        if let Some(list) = cache.get(conv) {
            return Ok(list.to_vec());
        }
        let epoch = cache.epoch();
        let prefix = key(&[conv.as_bytes(), b""]);
        let list: Vec<pb::Member> = self
            .shared()
            .scan(Ks::Members, &prefix)?
            .iter()
            .map(|(_, v)| decode(v))
            .collect::<StoreResult<_>>()?;
        cache.fill(conv, epoch, Arc::new(list.clone()));
        Ok(list)
    }

    async fn user_conversations(&self, user: &str) -> StoreResult<Vec<String>> {
        let prefix = key(&[user.as_bytes(), b""]);
        self.shared()
            .scan(Ks::UserConvs, &prefix)?
            .into_iter()
            .map(|(k, _)| {
                String::from_utf8(k[prefix.len()..].to_vec())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    async fn lease_seqs(&self, conv: &str, n: u64) -> StoreResult<Range<u64>> {
        let conv = conv.to_string();
        // One writer, and jobs see the batch's earlier writes: this
        // read-modify-write is a compare-and-set.
        self.write(move |txn| {
            let start = match txn.get(Ks::Leases, conv.as_bytes())? {
                Some(v) => u64_of(&v)?,
                None => 1,
            };
            txn.put(
                Ks::Leases,
                conv.into_bytes(),
                (start + n).to_be_bytes().to_vec(),
            );
            Ok(start..start + n)
        })
        .await
    }

    async fn redact(&self, events: &[pb::Event]) -> StoreResult<()> {
        let rows: Vec<(Vec<u8>, Vec<u8>)> = events
            .iter()
            .map(|e| (event_key(&e.conversation_id, e.seq), e.encode_to_vec()))
            .collect();
        self.write(move |txn| {
            for (key, bytes) in rows {
                if txn.get(Ks::Events, &key)?.is_some() {
                    txn.put(Ks::Events, key, bytes);
                }
            }
            Ok(())
        })
        .await
    }

    async fn append(&self, events: &[pb::Event]) -> StoreResult<()> {
        let rows: Vec<AppendRow> = events
            .iter()
            .map(|e| {
                let dedup = (!e.client_msg_id.is_empty()).then(|| {
                    key(&[
                        e.conversation_id.as_bytes(),
                        e.sender_id.as_bytes(),
                        e.client_msg_id.as_bytes(),
                    ])
                });
                AppendRow {
                    key: event_key(&e.conversation_id, e.seq),
                    dedup,
                    reaction: reaction_write(e),
                    pin: pin_write(e),
                    thread: thread_write(e),
                    seq: e.seq,
                    bytes: e.encode_to_vec(),
                }
            })
            .collect();
        self.write(move |txn| {
            // Rows are immutable: check every key before the first write.
            for row in &rows {
                if txn.get(Ks::Events, &row.key)?.is_some() {
                    return Err(StoreError::AlreadyExists(
                        "that seq is already written".into(),
                    ));
                }
            }
            for row in rows {
                txn.put(Ks::Events, row.key, row.bytes);
                let seq = row.seq.to_be_bytes().to_vec();
                if let Some(d) = row.dedup {
                    txn.put(Ks::Dedup, d, dedup_value(row.seq, now_ms()));
                }
                match row.reaction {
                    Some((k, false)) => txn.put(Ks::Reactions, k, seq),
                    Some((k, true)) => txn.remove(Ks::Reactions, k),
                    None => {}
                }
                match row.pin {
                    Some((k, Some(v))) => txn.put(Ks::Pins, k, v),
                    Some((k, None)) => txn.remove(Ks::Pins, k),
                    None => {}
                }
                if let Some((k, sender)) = row.thread {
                    txn.put(Ks::Threads, k, sender);
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
        let Some(v) = self.shared().get(
            Ks::Dedup,
            &key(&[conv.as_bytes(), sender.as_bytes(), client_msg_id.as_bytes()]),
        )?
        else {
            return Ok(None);
        };
        let (seq, at) = dedup_of(&v)?;
        Ok((!self.shared().dedup_expired(at, now_ms())).then_some(seq))
    }

    async fn read_range(&self, conv: &str, range: ReadRange) -> StoreResult<Vec<pb::Event>> {
        if range.from > range.to || range.limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .shared()
            .ks(Ks::Events)
            .range(event_key(conv, range.from)..=event_key(conv, range.to));
        let mut out = Vec::with_capacity(range.limit.min(512));
        if range.backward {
            for g in rows.rev().take(range.limit) {
                out.push(decode(&g.value().map_err(be)?)?);
            }
            out.reverse();
        } else {
            for g in rows.take(range.limit) {
                out.push(decode(&g.value().map_err(be)?)?);
            }
        }
        Ok(out)
    }

    async fn reactions(&self, conv: &str, target: u64) -> StoreResult<Vec<ReactionRow>> {
        let prefix = reactions_prefix(conv, target);
        let mut rows = self
            .shared()
            .scan(Ks::Reactions, &prefix)?
            .into_iter()
            .map(|(k, v)| {
                let rest = &k[prefix.len()..];
                let cut = rest
                    .iter()
                    .position(|b| *b == 0)
                    .ok_or_else(|| StoreError::Corrupt("reaction key without a user".into()))?;
                let text = |b: &[u8]| {
                    String::from_utf8(b.to_vec()).map_err(|e| StoreError::Corrupt(e.to_string()))
                };
                Ok(ReactionRow {
                    emoji: text(&rest[..cut])?,
                    user_id: text(&rest[cut + 1..])?,
                    seq: u64_of(&v)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        rows.sort_unstable_by_key(|r| r.seq);
        Ok(rows)
    }

    async fn thread_rows(&self, conv: &str, (from, to): (u64, u64)) -> StoreResult<Vec<ThreadRow>> {
        if from > to {
            return Ok(Vec::new());
        }
        let prefix_len = conv.len() + 1;
        self.shared()
            .ks(Ks::Threads)
            .range(thread_key(conv, from, 0)..=thread_key(conv, to, u64::MAX))
            .map(|g| {
                let (k, v) = g.into_inner().map_err(be)?;
                let at = &k[prefix_len..];
                if at.len() != 16 {
                    return Err(StoreError::Corrupt("thread row key".into()));
                }
                Ok(ThreadRow {
                    root_seq: u64_of(&at[..8])?,
                    seq: u64_of(&at[8..])?,
                    sender_id: String::from_utf8(v.to_vec())
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    async fn pins(&self, conv: &str) -> StoreResult<Vec<PinRow>> {
        let prefix = key(&[conv.as_bytes(), b""]);
        let mut rows = self
            .shared()
            .scan(Ks::Pins, &prefix)?
            .into_iter()
            .map(|(k, v)| {
                if v.len() < 8 {
                    return Err(StoreError::Corrupt("pin row too short".into()));
                }
                Ok(PinRow {
                    target_seq: u64_of(&k[prefix.len()..])?,
                    pinned_by: String::from_utf8(v[8..].to_vec())
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    seq: u64_of(&v[..8])?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        rows.sort_unstable_by_key(|r| r.seq);
        Ok(rows)
    }

    async fn head(&self, conv: &str) -> StoreResult<u64> {
        // The highest event key of the conversation: its head.
        let prefix = key(&[conv.as_bytes(), b""]);
        match self.shared().ks(Ks::Events).prefix(&prefix).next_back() {
            Some(g) => {
                let k = g.key().map_err(be)?;
                u64_of(&k[prefix.len()..])
            }
            None => Ok(0),
        }
    }

    async fn set_joined(&self, conv: &str, user: &str, seq: u64) -> StoreResult<()> {
        let k = key(&[conv.as_bytes(), user.as_bytes()]);
        self.write(move |txn| {
            txn.put(Ks::Joins, k, seq.to_be_bytes().to_vec());
            Ok(())
        })
        .await
    }

    async fn joined(&self, conv: &str, user: &str) -> StoreResult<u64> {
        self.shared()
            .get(Ks::Joins, &key(&[conv.as_bytes(), user.as_bytes()]))?
            .map(|v| u64_of(&v))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn settings(&self, conv: &str, user: &str) -> StoreResult<pb::ConversationSettings> {
        Ok(self
            .shared()
            .get(Ks::Settings, &key(&[conv.as_bytes(), user.as_bytes()]))?
            .map(|v| decode(&v))
            .transpose()?
            .unwrap_or_default())
    }

    async fn put_settings(
        &self,
        conv: &str,
        user: &str,
        settings: &pb::ConversationSettings,
    ) -> StoreResult<()> {
        let k = key(&[conv.as_bytes(), user.as_bytes()]);
        let v = settings.encode_to_vec();
        self.write(move |txn| {
            txn.put(Ks::Settings, k, v);
            Ok(())
        })
        .await
    }

    async fn set_read(&self, conv: &str, user: &str, seq: u64) -> StoreResult<u64> {
        let k = key(&[conv.as_bytes(), user.as_bytes()]);
        self.write(move |txn| {
            let Some(old) = txn.get(Ks::Members, &k)? else {
                return Ok(0);
            };
            let mut m = decode::<pb::Member>(&old)?;
            if seq > m.read_seq {
                m.read_seq = seq;
                txn.put(Ks::Members, k, m.encode_to_vec());
            }
            Ok(m.read_seq)
        })
        .await
    }

    async fn write_records(&self, writes: Vec<RecordWrite>) -> StoreResult<()> {
        let mut rows = Vec::with_capacity(writes.len());
        for w in writes {
            rows.push(match w {
                RecordWrite::Put(k, v) => (record_key(&k)?, Some(v)),
                RecordWrite::Delete(k) => (record_key(&k)?, None),
            });
        }
        self.write(move |txn| {
            for (k, v) in rows {
                match v {
                    Some(v) => txn.put(Ks::Records, k, v),
                    None => txn.remove(Ks::Records, k),
                }
            }
            Ok(())
        })
        .await
    }

    async fn record(&self, key: &RecordKey) -> StoreResult<Option<Vec<u8>>> {
        self.shared().get(Ks::Records, &record_key(key)?)
    }

    async fn records(
        &self,
        kind: RecordKind,
        scope: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let prefix = records_prefix(kind, scope)?;
        let mut out = Vec::new();
        for g in self.shared().ks(Ks::Records).prefix(&prefix) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = g.into_inner().map_err(be)?;
            let id = std::str::from_utf8(&k[prefix.len()..])
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if id > after {
                out.push((id.to_string(), v.to_vec()));
            }
        }
        Ok(out)
    }
}
