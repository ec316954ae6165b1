//! Versions of member lists, so that fanout can cache a conversation's
//! members and know when its copy is stale without asking every time: each
//! stored event is published with the version of the list it was stored
//! under, and `member_ids` answers with the version it read.
//!
//! A version is (epoch, counter): the epoch is random per process start,
//! the counter counts this process's changes to the conversation's list.
//! Only the owner of a conversation changes its members and publishes its
//! events, so its versions are the only ones in use; after a restart (or a
//! move to another owner) the epoch differs and every cached list is
//! fetched again once. Versions are compared for equality only.

use parley_proto::v1 as pb;
use std::collections::HashMap;

pub(crate) struct MemberVersions {
    epoch: u64,
    /// Conversations whose list changed since start; absent means 0.
    counters: parking_lot::Mutex<HashMap<String, u64>>,
}

impl MemberVersions {
    pub(crate) fn new() -> Self {
        let mut epoch = [0u8; 8];
        // A collision with an earlier epoch of the same conversation's owner
        // would let a stale list pass; 64 random bits make that negligible.
        getrandom::fill(&mut epoch).expect("the OS random source works");
        Self {
            epoch: u64::from_le_bytes(epoch),
            counters: Default::default(),
        }
    }

    pub(crate) fn current(&self, conv: &str) -> pb::MembersVersion {
        pb::MembersVersion {
            epoch: self.epoch,
            counter: self.counters.lock().get(conv).copied().unwrap_or(0),
        }
    }

    /// Called once a change of `conv`'s list is durable, before the event
    /// that announces it is published: that event and every later one carry
    /// the new version.
    pub(crate) fn changed(&self, conv: &str) {
        *self.counters.lock().entry(conv.to_string()).or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_gives_a_new_version_and_restarts_give_new_epochs() {
        let v = MemberVersions::new();
        let before = v.current("c1");
        assert_eq!(v.current("c1"), before);
        v.changed("c1");
        assert_ne!(v.current("c1"), before);
        assert_eq!(v.current("c2").counter, 0);
        assert_ne!(MemberVersions::new().current("c1").epoch, before.epoch);
    }
}
