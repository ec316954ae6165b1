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

    /// (acked, expected deliveries, delivered, lost) for conversations of
    /// `members[conv]` members.
    pub fn totals(&self, members: &[u32]) -> (u64, u64, u64, u64) {
        let all = self.messages.lock();
        let (mut acked, mut expected, mut got, mut lost) = (0, 0, 0, 0);
        for m in all.iter() {
            let seq = m.seq.load(Ordering::Relaxed);
            if seq == 0 {
                continue;
            }
            acked += 1;
            let want = u64::from(members[m.conv as usize]);
            let have = u64::from(m.delivered.load(Ordering::Relaxed));
            expected += want;
            got += have.min(want);
            lost += want.saturating_sub(have);
            if m.seen_seq.load(Ordering::Relaxed) != 0 && m.seen_seq.load(Ordering::Relaxed) != seq
            {
                self.mismatched.fetch_add(1, Ordering::Relaxed);
            }
        }
        (acked, expected, got, lost)
    }

    pub fn len(&self) -> usize {
        self.messages.lock().len()
    }
}
