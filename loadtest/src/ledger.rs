//! Bookkeeping of every message: its conversation, the seq its ack gave,
//! and how many members received it; plus per-receiver order checks.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Seq 0 in `seq` means "not acked (yet)".
pub(crate) struct Message {
    pub conv: u32,
    pub seq: AtomicU64,
    pub delivered: AtomicU32,
    /// First seq a receiver reported, to check that all members agree.
    pub seen_seq: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    pub acked: u64,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    /// Deliveries beyond one per member: duplicates the per-receiver
    /// order check could not tell apart from reordering.
    pub extra: u64,
    /// Messages whose delivered seq differs from the seq their ack gave.
    pub ack_mismatches: u64,
}

#[derive(Default)]
pub(crate) struct Ledger {
    messages: Mutex<Vec<std::sync::Arc<Message>>>,
    pub duplicates: AtomicU64,
    pub reordered: AtomicU64,
    pub mismatched: AtomicU64,
    pub deliveries: AtomicU64,
    /// Last seq per (receiver, conversation).
    last: Mutex<HashMap<(u32, u32), u64>>,
}

impl Ledger {
    /// Registers a message about to be sent; returns its id.
    pub fn add(&self, conv: u32) -> (u64, std::sync::Arc<Message>) {
        let m = std::sync::Arc::new(Message {
            conv,
            seq: AtomicU64::new(0),
            delivered: AtomicU32::new(0),
            seen_seq: AtomicU64::new(0),
        });
        let mut all = self.messages.lock();
        all.push(m.clone());
        ((all.len() - 1) as u64, m)
    }

    pub fn get(&self, id: u64) -> Option<std::sync::Arc<Message>> {
        self.messages.lock().get(id as usize).cloned()
    }

    /// Records that `receiver` got message `id` as `seq` of conversation `conv`.
    pub fn delivered(&self, receiver: u32, conv: u32, id: u64, seq: u64) {
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        {
            let mut last = self.last.lock();
            let l = last.entry((receiver, conv)).or_insert(0);
            if seq == *l {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if seq < *l {
                self.reordered.fetch_add(1, Ordering::Relaxed);
            }
            *l = (*l).max(seq);
        }
        let Some(m) = self.get(id) else { return };
        m.delivered.fetch_add(1, Ordering::Relaxed);
        let first = m
            .seen_seq
            .compare_exchange(0, seq, Ordering::Relaxed, Ordering::Relaxed);
        if let Err(prev) = first
            && prev != seq
        {
            self.mismatched.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts over every acknowledged message, for conversations of
    /// `members[conv]` members. Reads only: it is polled while waiting.
    pub fn totals(&self, members: &[u32]) -> Totals {
        let all = self.messages.lock();
        let mut t = Totals::default();
        for m in all.iter() {
            let seq = m.seq.load(Ordering::Relaxed);
            if seq == 0 {
                continue;
            }
            t.acked += 1;
            let want = u64::from(members[m.conv as usize]);
            let have = u64::from(m.delivered.load(Ordering::Relaxed));
            t.expected += want;
            t.delivered += have.min(want);
            t.lost += want.saturating_sub(have);
            t.extra += have.saturating_sub(want);
            let seen = m.seen_seq.load(Ordering::Relaxed);
            if seen != 0 && seen != seq {
                t.ack_mismatches += 1;
            }
        }
        t
    }

    pub fn len(&self) -> usize {
        self.messages.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_stable_and_catch_losses_duplicates_and_mismatches() {
        let l = Ledger::default();
        let members = [2u32];
        let (a, ma) = l.add(0);
        let (b, mb) = l.add(0);
        ma.seq.store(5, Ordering::Relaxed);
        mb.seq.store(6, Ordering::Relaxed);
        l.delivered(0, 0, a, 5);
        l.delivered(0, 0, b, 6);
        l.delivered(1, 0, b, 7); // another member saw b under another seq
        l.delivered(1, 0, a, 5); // arrives after b: reordered
        l.delivered(1, 0, b, 7); // seen again: duplicate
        let (c, mc) = l.add(0);
        mc.seq.store(8, Ordering::Relaxed);
        l.delivered(0, 0, c, 9); // delivered under a seq its ack did not give
        l.delivered(1, 0, c, 9);
        let first = l.totals(&members);
        let again = l.totals(&members);
        assert_eq!(
            (first.acked, first.expected, first.delivered, first.lost),
            (3, 6, 6, 0)
        );
        assert_eq!(
            first.ack_mismatches, 1,
            "c's delivered seq differs from its ack"
        );
        assert_eq!(l.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(l.reordered.load(Ordering::Relaxed), 1);
        assert_eq!(
            l.mismatched.load(Ordering::Relaxed),
            1,
            "members disagree on b's seq"
        );
        assert_eq!(
            first.ack_mismatches, again.ack_mismatches,
            "polling does not count again"
        );
    }
}
