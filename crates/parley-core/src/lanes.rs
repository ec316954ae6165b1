//! Spreading per-conversation work over a fixed number of sequential lanes:
//! lanes run concurrently, and all work of one conversation goes to the
//! same lane, so it keeps its order (fanout workers, the storage publisher).

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// The lane (of `lanes`) that handles `conversation`. Stable within a
/// process, which is all a lane needs.
pub fn lane_of(conversation: &str, lanes: usize) -> usize {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(conversation) as usize % lanes.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_always_gets_the_same_lane_and_lanes_are_all_used() {
        assert_eq!(lane_of("c1", 16), lane_of("c1", 16));
        let used: std::collections::HashSet<_> = (0..1000)
            .map(|i| lane_of(&format!("conv-{i}"), 16))
            .collect();
        assert_eq!(used.len(), 16);
        assert!(used.iter().all(|&l| l < 16));
        assert_eq!(lane_of("c1", 0), 0);
    }
}
