//! Seq bucketing: a conversation's events are partitioned by
//! (conversation_id, seq / BUCKET_SIZE), so a partition stays bounded and
//! the partition of any seq is arithmetic, with no index to look up.

/// Seqs per partition. 4096 messages of a few hundred bytes are ~1 MB; the
/// 64 KiB message limit bounds the worst case at 256 MiB, which Scylla
/// handles but warns about (large-partition threshold).
pub const BUCKET_SIZE: u64 = 4096;

pub fn bucket_of(seq: u64) -> u64 {
    seq / BUCKET_SIZE
}

/// One partition's slice of a seq range: read `from..=to` in `bucket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketSlice {
    pub bucket: u64,
    pub from: u64,
    pub to: u64,
}

/// The partitions covering `from..=to`, oldest first (or newest first when
/// `backward`), each with the part of the range it holds. Empty when
/// `from > to`.
pub fn slices(from: u64, to: u64, backward: bool) -> Box<dyn Iterator<Item = BucketSlice> + Send> {
    if from > to {
        return Box::new(std::iter::empty());
    }
    let slice = move |bucket: u64| BucketSlice {
        bucket,
        from: from.max(bucket * BUCKET_SIZE),
        to: to.min(
            bucket
                .saturating_mul(BUCKET_SIZE)
                .saturating_add(BUCKET_SIZE - 1),
        ),
    };
    let buckets = bucket_of(from)..=bucket_of(to);
    if backward {
        Box::new(buckets.rev().map(slice))
    } else {
        Box::new(buckets.map(slice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_fall_into_their_bucket() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(4095), 0);
        assert_eq!(bucket_of(4096), 1);
        assert_eq!(bucket_of(u64::MAX), u64::MAX / 4096);
    }

    #[test]
    fn a_range_inside_one_bucket_is_one_slice() {
        let s: Vec<_> = slices(1, 10, false).collect();
        assert_eq!(
            s,
            vec![BucketSlice {
                bucket: 0,
                from: 1,
                to: 10
            }]
        );
    }

    #[test]
    fn a_range_across_buckets_is_cut_at_the_boundaries() {
        let s: Vec<_> = slices(4000, 8200, false).collect();
        assert_eq!(
            s,
            vec![
                BucketSlice {
                    bucket: 0,
                    from: 4000,
                    to: 4095
                },
                BucketSlice {
                    bucket: 1,
                    from: 4096,
                    to: 8191
                },
                BucketSlice {
                    bucket: 2,
                    from: 8192,
                    to: 8200
                },
            ]
        );
        let back: Vec<_> = slices(4000, 8200, true).collect();
        assert_eq!(back, s.into_iter().rev().collect::<Vec<_>>());
    }

    #[test]
    fn slices_cover_every_seq_exactly_once() {
        for (from, to) in [(0, 0), (1, 4096), (4095, 4096), (5, 20_000), (8191, 8192)] {
            let mut seen = Vec::new();
            for s in slices(from, to, false) {
                assert!(s.from <= s.to);
                assert!(s.from >= from && s.to <= to);
                assert_eq!(bucket_of(s.from), s.bucket);
                assert_eq!(bucket_of(s.to), s.bucket);
                seen.extend(s.from..=s.to);
            }
            assert_eq!(seen, (from..=to).collect::<Vec<_>>());
        }
    }

    #[test]
    fn empty_and_extreme_ranges() {
        assert_eq!(slices(10, 9, false).count(), 0);
        let last: Vec<_> = slices(u64::MAX - 1, u64::MAX, true).collect();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].to, u64::MAX);
    }
}
