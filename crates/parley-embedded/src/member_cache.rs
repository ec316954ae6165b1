//! Member lists of recently active conversations. Fanout asks for a
//! conversation's members for every stored event; without a cache each ask
//! is a prefix scan of the store and a decode of every row (~6% of a busy
//! node's CPU at 50,000 deliveries/s across 10,000 groups).
//!
//! Coherent because one process owns the store and every write goes
//! through its one writer thread, which invalidates the conversations a
//! batch touched right after the commit. A reader that scanned before that
//! commit must not put its stale list back afterwards: it notes the epoch
//! before scanning and fills only if no invalidation happened since
//! (checked and inserted under the lock the invalidation also takes).

use parking_lot::Mutex;
use parley_proto::v1 as pb;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) type Members = Arc<Vec<pb::Member>>;

/// Members held at most, over all cached conversations (~100 bytes each).
const CAPACITY_MEMBERS: u64 = 200_000;
/// Conversations the cache expects to hold (sizes its tables).
const EXPECTED_CONVERSATIONS: usize = 20_000;

/// A conversation weighs what it holds: one unit per member, plus one.
#[derive(Clone)]
struct ByMembers;

impl Weighter<String, Members> for ByMembers {
    fn weight(&self, _conv: &String, members: &Members) -> u64 {
        members.len() as u64 + 1
    }
}

pub(crate) struct MemberCache {
    lists: Cache<String, Members, ByMembers>,
    epoch: AtomicU64,
    fill_lock: Mutex<()>,
}

impl MemberCache {
    pub(crate) fn new() -> Self {
        Self::with_capacity(CAPACITY_MEMBERS)
    }

    fn with_capacity(members: u64) -> Self {
        Self {
            lists: Cache::with_weighter(EXPECTED_CONVERSATIONS, members, ByMembers),
            epoch: AtomicU64::new(0),
            fill_lock: Mutex::new(()),
        }
    }

    pub(crate) fn get(&self, conv: &str) -> Option<Members> {
        self.lists.get(conv)
    }

    /// To be read before scanning the store, and handed to `fill`.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches `members` of `conv` as scanned after `epoch` was read, unless
    /// a write to any member list was committed since.
    pub(crate) fn fill(&self, conv: &str, epoch: u64, members: Members) {
        let _guard = self.fill_lock.lock();
        if self.epoch.load(Ordering::Acquire) == epoch {
            self.lists.insert(conv.to_string(), members);
        }
    }

    /// Called by the writer once a batch that wrote member rows of
    /// `convs` is committed (or failed: dropping an entry is always safe).
    pub(crate) fn invalidate<'a>(&self, convs: impl IntoIterator<Item = &'a [u8]>) {
        let _guard = self.fill_lock.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for conv in convs {
            if let Ok(conv) = std::str::from_utf8(conv) {
                self.lists.remove(conv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(users: &[&str]) -> Members {
        Arc::new(
            users
                .iter()
                .map(|u| pb::Member {
                    user_id: u.to_string(),
                    role: 0,
                    read_seq: 0,
                })
                .collect(),
        )
    }

    #[test]
    fn a_fill_from_before_an_invalidation_is_refused() {
        let cache = MemberCache::new();
        let before = cache.epoch();
        // A write commits between the reader's scan and its fill.
        cache.invalidate([b"c1".as_slice()]);
        cache.fill("c1", before, list(&["alice", "bob"]));
        assert!(cache.get("c1").is_none(), "stale list was cached");

        let now = cache.epoch();
        cache.fill("c1", now, list(&["alice"]));
        assert_eq!(cache.get("c1").unwrap().len(), 1);
        cache.invalidate([b"c1".as_slice()]);
        assert!(cache.get("c1").is_none());
    }

    #[test]
    fn invalidation_only_drops_the_named_conversations() {
        let cache = MemberCache::new();
        let e = cache.epoch();
        cache.fill("c1", e, list(&["a"]));
        cache.fill("c2", e, list(&["b"]));
        cache.invalidate([b"c2".as_slice()]);
        assert!(cache.get("c1").is_some());
        assert!(cache.get("c2").is_none());
    }

    #[test]
    fn the_cache_is_bounded_by_members_held() {
        let cache = MemberCache::with_capacity(1_000);
        let e = cache.epoch();
        for i in 0..1_000 {
            cache.fill(
                &format!("c{i}"),
                e,
                list(&["a", "b", "c", "d", "e", "f", "g", "h", "i"]),
            );
        }
        let held = (0..1_000)
            .filter(|i| cache.get(&format!("c{i}")).is_some())
            .count();
        assert!(
            held <= 100,
            "{held} lists of 10 held under a capacity of 1,000"
        );
        assert!(held > 0);
    }
}
