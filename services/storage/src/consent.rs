//! Consent between two people: message requests and blocks, kept per pair
//! under the id of their direct conversation, so the instance that owns
//! that conversation answers every question about the pair (a send in it,
//! starting it, whether either blocked the other) from its own store.
//!
//! Besides the pair record, a block writes a row under each of the two
//! users (`RecordKind::Block`), which lists a user's blocks on this
//! instance: their own list, and who may not see their presence.

use crate::access::user_caller;
use crate::handlers::Handlers;
pub(crate) use parley_core::ids::is_direct_id;
use parley_core::ids::{direct_id, validate_id};
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::{RecordKey, RecordKind, RecordWrite};
use parley_proto::v1 as pb;
use prost::Message;

/// At most this many blocks are listed (and kept) per user per instance.
pub(crate) const MAX_BLOCKS: usize = 10_000;

fn decode_pair(bytes: &[u8]) -> ServiceResult<pb::PairState> {
    pb::PairState::decode(bytes).map_err(|e| ServiceError::Internal(format!("pair record: {e}")))
}

impl Handlers {
    /// The pair's record (empty when they never had one).
    pub(crate) async fn pair_state(&self, pair: &str) -> ServiceResult<pb::PairState> {
        match self
            .store
            .record(&RecordKey::new(RecordKind::Pair, pair, ""))
            .await?
        {
            Some(bytes) => decode_pair(&bytes),
            None => Ok(pb::PairState::default()),
        }
    }

    /// Replaces the pair's record and the block rows of both users.
    pub(crate) async fn put_pair(
        &self,
        (a, b): (&str, &str),
        state: &pb::PairState,
    ) -> ServiceResult<()> {
        let pair = direct_id(a, b);
        let bytes = state.encode_to_vec();
        let mut writes = Vec::with_capacity(3);
        if *state == pb::PairState::default() {
            writes.push(RecordWrite::Delete(RecordKey::new(
                RecordKind::Pair,
                &pair,
                "",
            )));
        } else {
            writes.push(RecordWrite::Put(
                RecordKey::new(RecordKind::Pair, &pair, ""),
                bytes.clone(),
            ));
        }
        for (me, other) in [(a, b), (b, a)] {
            let key = RecordKey::new(RecordKind::Block, me, other);
            writes.push(if state.blocked_by.is_empty() {
                RecordWrite::Delete(key)
            } else {
                RecordWrite::Put(key, bytes.clone())
            });
        }
        Ok(self.store.write_records(writes).await?)
    }

    /// Blocks or unblocks; blocking twice (or unblocking someone not
    /// blocked) changes nothing and is not an error.
    pub(crate) async fn block(&self, req: pb::BlockRequest) -> ServiceResult<pb::Empty> {
        let me = user_caller(req.caller.as_ref())?;
        validate_id("user_id", &req.user_id)?;
        if req.user_id == me {
            return Err(ServiceError::InvalidArgument(
                "you cannot block yourself".into(),
            ));
        }
        let mut state = self.pair_state(&direct_id(&me, &req.user_id)).await?;
        let had = state.blocked_by.contains(&me);
        if req.unblock == had {
            state.blocked_by.retain(|u| *u != me);
            if !req.unblock {
                if self.blocks_of(&me).await?.len() >= MAX_BLOCKS {
                    return Err(ServiceError::ResourceExhausted(format!(
                        "you block {MAX_BLOCKS} people already"
                    )));
                }
                state.blocked_by.push(me.clone());
            }
            self.put_pair((&me, &req.user_id), &state).await?;
        }
        Ok(pb::Empty {})
    }

    /// The rows of the pairs on this instance in which `user` is in a
    /// block (either way): (the other user, the pair's state).
    async fn blocks_of(&self, user: &str) -> ServiceResult<Vec<(String, pb::PairState)>> {
        let rows = self
            .store
            .records(RecordKind::Block, user, "", MAX_BLOCKS * 2)
            .await?;
        rows.into_iter()
            .map(|(other, v)| Ok((other, decode_pair(&v)?)))
            .collect()
    }

    /// Everyone in a block with `user` here, whoever blocked whom.
    pub(crate) async fn blocked_either_way(&self, user: &str) -> ServiceResult<Vec<String>> {
        Ok(self
            .blocks_of(user)
            .await?
            .into_iter()
            .map(|(other, _)| other)
            .collect())
    }

    pub(crate) async fn list_blocked(
        &self,
        req: pb::CallerRequest,
    ) -> ServiceResult<pb::BlockedReply> {
        let me = user_caller(req.caller.as_ref())?;
        let user_ids = self
            .blocks_of(&me)
            .await?
            .into_iter()
            .filter(|(_, s)| s.blocked_by.contains(&me))
            .map(|(other, _)| other)
            .collect();
        Ok(pb::BlockedReply { user_ids })
    }

    pub(crate) async fn relations(
        &self,
        req: pb::RelationsRequest,
    ) -> ServiceResult<pb::RelationsReply> {
        let me = user_caller(req.caller.as_ref())?;
        let mut blocked_user_ids = Vec::new();
        for u in &req.user_ids {
            validate_id("user_id", u)?;
            if *u != me
                && !self
                    .pair_state(&direct_id(&me, u))
                    .await?
                    .blocked_by
                    .is_empty()
            {
                blocked_user_ids.push(u.clone());
            }
        }
        Ok(pb::RelationsReply { blocked_user_ids })
    }

    /// Whether `sender` may write in the direct conversation `conv` (no
    /// block either way). A reply from the one a message request was sent
    /// to accepts it.
    pub(crate) async fn check_direct_send(&self, conv: &str, sender: &str) -> ServiceResult<()> {
        let mut state = self.pair_state(conv).await?;
        refuse_blocked(&state, sender)?;
        if let Some(request) = &state.request
            && request.from_user_id != sender
        {
            let from = request.from_user_id.clone();
            state.request = None;
            self.put_pair((sender, &from), &state).await?;
        }
        Ok(())
    }

    /// Starting the direct conversation of `me` and `other`: refused in a
    /// block; otherwise the pair's state after it (a request recorded when
    /// `request` says the other has to accept; an open request from the
    /// other accepted by starting it back).
    pub(crate) async fn start_direct(
        &self,
        me: &str,
        other: &str,
        request: bool,
        exists: bool,
    ) -> ServiceResult<()> {
        let mut state = self.pair_state(&direct_id(me, other)).await?;
        if state.blocked_by.iter().any(|u| u == me) {
            return Err(ServiceError::PermissionDenied(format!(
                "you blocked {other}: unblock them first"
            )));
        }
        if !state.blocked_by.is_empty() {
            return Err(ServiceError::PermissionDenied(format!(
                "{other} does not accept messages from you"
            )));
        }
        let answering = state
            .request
            .as_ref()
            .is_some_and(|r| r.from_user_id == other);
        if answering {
            state.request = None;
            self.put_pair((me, other), &state).await?;
            self.announce_accepted(&direct_id(me, other), me, other)
                .await?;
        } else if request && !exists && state.request.is_none() {
            state.request = Some(pb::DirectRequest {
                from_user_id: me.to_string(),
                at_ms: now_ms(),
            });
            self.put_pair((me, other), &state).await?;
        }
        Ok(())
    }

    /// Accepts or declines the message request of the direct conversation
    /// `conv` (declining blocks its sender).
    pub(crate) async fn respond_direct(
        &self,
        conv: &str,
        me: &str,
        accept: bool,
    ) -> ServiceResult<pb::RespondReply> {
        let mut state = self.pair_state(conv).await?;
        let from = match &state.request {
            Some(r) if r.from_user_id != me => r.from_user_id.clone(),
            _ => {
                return Err(ServiceError::NotFound(
                    "no message request to answer here".into(),
                ));
            }
        };
        state.request = None;
        if !accept && !state.blocked_by.iter().any(|u| u == me) {
            state.blocked_by.push(me.to_string());
        }
        self.put_pair((me, &from), &state).await?;
        let conversation = if accept {
            self.announce_accepted(conv, me, &from).await?;
            Some(
                self.get_conversation(pb::ConversationRequest {
                    conversation_id: conv.to_string(),
                    caller: parley_core::Caller::user(me)?.to_proto(),
                })
                .await?,
            )
        } else {
            None
        };
        Ok(pb::RespondReply {
            conversation,
            event: None,
            invited_by: from,
        })
    }

    /// Tells both of a direct conversation, in its timeline, that `me`
    /// accepted the request of `from` (so every device of the one who
    /// asked learns it, live or at its next catch-up). Written after the
    /// pair: a crash in between leaves the request accepted without the
    /// event, never an event for a request still open.
    async fn announce_accepted(&self, conv: &str, me: &str, from: &str) -> ServiceResult<()> {
        let body = pb::event::Body::RequestAccepted(pb::RequestAccepted {
            from_user_id: from.to_string(),
        });
        self.commit(conv, me, "", body).await?;
        Ok(())
    }
}

/// A send (or a start) between the two of a pair in a block is refused,
/// with whose block it is (the sender learns they are blocked: a message
/// that silently never arrives is worse for both sides).
pub(crate) fn refuse_blocked(state: &pb::PairState, sender: &str) -> ServiceResult<()> {
    if state.blocked_by.iter().any(|u| u == sender) {
        return Err(ServiceError::PermissionDenied(
            "you blocked this person: unblock them to write".into(),
        ));
    }
    if !state.blocked_by.is_empty() {
        return Err(ServiceError::PermissionDenied(
            "this person does not accept messages from you".into(),
        ));
    }
    Ok(())
}
