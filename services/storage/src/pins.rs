//! Pinned messages: who may pin (any member), which pins change nothing
//! (pinning a pinned message, unpinning one that is not: refused without
//! using a seq), the limit per conversation, and the pins a conversation
//! reply carries.

use crate::handlers::Handlers;
use parley_core::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;

/// Pins one conversation holds at most.
pub(crate) const MAX_PINS: usize = 50;

impl Handlers {
    /// Checks a pin send. A retry of a send that was stored passes
    /// untouched: the commit answers it with the original seq.
    pub(crate) async fn check_pin(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
        p: pb::PinBody,
    ) -> ServiceResult<pb::PinBody> {
        self.target_message(conv, p.target_seq).await?;
        if self.is_stored(conv, sender, client_msg_id).await? {
            return Ok(p);
        }
        let pins = self.store.pins(conv).await?;
        let pinned = pins.iter().any(|row| row.target_seq == p.target_seq);
        match (p.unpin, pinned) {
            (false, true) => Err(ServiceError::AlreadyExists(
                "that message is already pinned".into(),
            )),
            (true, false) => Err(ServiceError::NotFound("that message is not pinned".into())),
            (false, false) if pins.len() >= MAX_PINS => Err(ServiceError::InvalidArgument(
                format!("a conversation holds at most {MAX_PINS} pins: unpin one first"),
            )),
            _ => Ok(p),
        }
    }

    /// The pins of `conv` as of its stable head, and that head.
    pub(crate) async fn pins_of(&self, conv: &str) -> ServiceResult<(Vec<pb::Pin>, u64)> {
        let head = self.sequencer.stable_head(conv).await?;
        let pins = self
            .store
            .pins(conv)
            .await?
            .into_iter()
            .filter(|row| row.seq <= head)
            .map(|row| pb::Pin {
                target_seq: row.target_seq,
                pinned_by: row.pinned_by,
                seq: row.seq,
            })
            .collect();
        Ok((pins, head))
    }
}
