//! Serialises the changes of one conversation that check its state before
//! they commit: roles, members, invitations, pins, reactions, edits and
//! deletes. Without it two of them can both pass a check that only one
//! may (two ownership transfers leaving two owners, a 51st pin, a second
//! identical reaction, an edit landing after the delete it raced). Plain
//! messages do not take it: nothing they check is changed by another send,
//! and the send path stays as it was.
//!
//! Striped: a fixed set of locks, a conversation's stripe chosen by hash,
//! so memory is bounded whatever the number of conversations; two
//! conversations share a stripe only by chance, and these changes are rare
//! next to messages.

use std::hash::BuildHasher;
use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 256;

pub(crate) struct ChangeLocks {
    stripes: Box<[Mutex<()>; STRIPES]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for ChangeLocks {
    fn default() -> Self {
        Self {
            stripes: Box::new(std::array::from_fn(|_| Mutex::new(()))),
            hasher: Default::default(),
        }
    }
}

impl ChangeLocks {
    /// Held until the change is committed (or refused). Callers take it
    /// once, at the handler's entry: it is not reentrant.
    pub(crate) async fn lock(&self, conversation: &str) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one(conversation) as usize % STRIPES;
        self.stripes[stripe].lock().await
    }
}
