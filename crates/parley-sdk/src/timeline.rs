//! Per-conversation ordering on the client: events come out in seq order,
//! exactly once, whatever order (and however often) they arrive in; a gap
//! is reported so the caller can pull it from history.

use parley_proto::v1 as pb;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

#[derive(Debug, Default, Clone)]
pub struct Timeline {
    /// Every seq up to here was delivered (or is a hole).
    delivered: u64,
    /// Events above the next expected seq, waiting for the gap to fill.
    pending: BTreeMap<u64, pb::Event>,
}

impl Timeline {
    /// A timeline that has delivered everything up to `seq`.
    pub fn starting_after(seq: u64) -> Self {
        Self {
            delivered: seq,
            pending: BTreeMap::new(),
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Accepts an event; returns the events now deliverable, in order.
    pub fn push(&mut self, event: pb::Event) -> Vec<pb::Event> {
        if event.seq <= self.delivered {
            return Vec::new();
        }
        self.pending.entry(event.seq).or_insert(event);
        self.drain()
    }

    /// Marks seqs that will never exist (from a history reply).
    pub fn skip(&mut self, seqs: &[u64]) -> Vec<pb::Event> {
        for &s in seqs {
            if s == self.delivered + 1 {
                self.delivered = s;
            } else if s > self.delivered {
                // A placeholder: delivered as nothing when its turn comes.
                self.pending.entry(s).or_insert_with(|| pb::Event {
                    seq: s,
                    ..Default::default()
                });
            }
        }
        self.drain()
    }

    /// Seqs below `from` are not the caller's to read (a group that shows
    /// members added later only what came after they joined): they count
    /// as delivered. Returns the events that become deliverable.
    pub fn start_at(&mut self, from: u64) -> Vec<pb::Event> {
        if from.saturating_sub(1) <= self.delivered {
            return Vec::new();
        }
        self.pending.retain(|&s, _| s >= from);
        self.delivered = from - 1;
        self.drain()
    }

    /// The missing seqs below the highest pending event, if any.
    pub fn gap(&self) -> Option<RangeInclusive<u64>> {
        let (&first, _) = self.pending.first_key_value()?;
        (first > self.delivered + 1).then(|| self.delivered + 1..=first - 1)
    }

    fn drain(&mut self) -> Vec<pb::Event> {
        let mut out = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.delivered + 1 {
                break;
            }
            let e = entry.remove();
            self.delivered = e.seq;
            // Hole placeholders have no conversation id.
            if !e.conversation_id.is_empty() {
                out.push(e);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_before_where_reading_starts_count_as_delivered() {
        let mut t = Timeline::starting_after(3);
        let ev = |seq| pb::Event {
            conversation_id: "c".into(),
            seq,
            ..Default::default()
        };
        assert!(t.push(ev(9)).is_empty());
        assert_eq!(t.gap(), Some(4..=8));
        assert!(t.start_at(8).is_empty());
        let out: Vec<u64> = t.push(ev(8)).iter().map(|e| e.seq).collect();
        assert_eq!(out, [8, 9]);
        assert!(t.start_at(2).is_empty(), "never goes back");
        assert_eq!(t.delivered(), 9);
    }
    use proptest::prelude::*;

    fn ev(seq: u64) -> pb::Event {
        pb::Event {
            conversation_id: "c".into(),
            seq,
            ..Default::default()
        }
    }

    #[test]
    fn reorders_dedupes_and_reports_gaps() {
        let mut t = Timeline::starting_after(0);
        assert_eq!(t.push(ev(1)).len(), 1);
        assert!(t.push(ev(3)).is_empty());
        assert_eq!(t.gap(), Some(2..=2));
        assert!(t.push(ev(1)).is_empty(), "duplicate dropped");
        let out: Vec<u64> = t.push(ev(2)).iter().map(|e| e.seq).collect();
        assert_eq!(out, vec![2, 3]);
        assert_eq!(t.gap(), None);
        assert!(t.push(ev(6)).is_empty());
        assert_eq!(t.gap(), Some(4..=5));
        let out: Vec<u64> = t.skip(&[4, 5]).iter().map(|e| e.seq).collect();
        assert_eq!(out, vec![6]);
        assert_eq!(t.delivered(), 6);
    }

    proptest! {
        /// Any arrival order with any duplicates, plus holes reported by
        /// history, yields every real event exactly once, in order.
        #[test]
        fn delivers_each_event_once_in_order(
            n in 1u64..60,
            holes in proptest::collection::btree_set(1u64..60, 0..10),
            order in proptest::collection::vec(0usize..1000, 0..200),
        ) {
            let real: Vec<u64> = (1..=n).filter(|s| !holes.contains(s)).collect();
            let mut arrivals: Vec<u64> = real.clone();
            for i in order { if !real.is_empty() { arrivals.push(real[i % real.len()]); } }
            // Shuffle deterministically by the generated indices.
            arrivals.sort_by_key(|s| (s * 7919) % 61);
            let mut t = Timeline::starting_after(0);
            let mut out = Vec::new();
            for s in arrivals { out.extend(t.push(ev(s)).into_iter().map(|e| e.seq)); }
            let hole_list: Vec<u64> = holes.iter().copied().filter(|h| *h <= n).collect();
            out.extend(t.skip(&hole_list).into_iter().map(|e| e.seq));
            prop_assert_eq!(out, real);
            prop_assert_eq!(t.gap(), None);
        }
    }
}
