//! Sends, history range pulls, sync and read watermarks.

use crate::access::{is_manager, require_member, user_caller};
use crate::consent::is_direct_id;
use crate::conversation_list::list_kind;
use crate::handlers::Handlers;
use crate::pages::{
    DEFAULT_SYNC_LIMIT, MAX_SYNC_LIMIT, REPLY_BUDGET_BYTES, page_limit, take_page_by,
};
use parley_core::ids::validate_id;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::ReadRange;
use parley_proto::v1 as pb;

/// Largest page of a history pull (a larger limit is refused).
pub(crate) const MAX_HISTORY_LIMIT: u32 = 500;
pub(crate) const DEFAULT_HISTORY_LIMIT: u32 = 100;
/// Largest seq span one history reply covers, so that a range across many
/// holes still yields a bounded `skipped` list.
pub(crate) const MAX_HISTORY_SPAN: u64 = 10_000;

/// Encoded size of an event with its reactions, for the byte budget.
fn paired_len((event, reactions): &(pb::Event, Vec<pb::ReactionSummary>)) -> usize {
    prost::Message::encoded_len(event)
        + reactions
            .iter()
            .map(|r| prost::Message::encoded_len(r) + 4)
            .sum::<usize>()
}

impl Handlers {
    pub(crate) async fn append(&self, req: pb::AppendRequest) -> ServiceResult<pb::AppendReply> {
        let sender = user_caller(req.caller.as_ref())?;
        let send = req
            .send
            .ok_or_else(|| ServiceError::InvalidArgument("send is required".into()))?;
        validate_id("client_msg_id", &send.client_msg_id)?;
        // Everything but a plain message checks state another change could
        // alter before it commits: one at a time per conversation, the
        // member (and their role) read under the lock.
        let _checked = match send.body {
            Some(pb::send::Body::Message(_)) => None,
            _ => Some(self.changes.lock(&send.conversation_id).await),
        };
        let member = require_member(&*self.store, &send.conversation_id, &sender).await?;
        if is_direct_id(&send.conversation_id) {
            self.check_direct_send(&send.conversation_id, &sender)
                .await?;
        }
        let body = match send.body {
            Some(pb::send::Body::Message(m)) => {
                self.check_text(&m.text)?;
                if m.reply_to_seq != 0 {
                    self.target_message(&send.conversation_id, m.reply_to_seq)
                        .await?;
                }
                if m.thread_root_seq != 0 {
                    self.check_thread_root(&send.conversation_id, m.thread_root_seq)
                        .await?;
                }
                self.check_mentions(&send.conversation_id, &m.mention_ids, m.mention_all)
                    .await?;
                pb::event::Body::Message(m)
            }
            Some(pb::send::Body::Update(u)) => {
                self.update_conversation(&send.conversation_id, &member, &send.client_msg_id, u)
                    .await?
            }
            Some(pb::send::Body::Role(r)) => {
                self.change_role(&send.conversation_id, &member, &send.client_msg_id, r)
                    .await?
            }
            Some(pb::send::Body::Pin(p)) => pb::event::Body::Pin(
                self.check_pin(&send.conversation_id, &sender, &send.client_msg_id, p)
                    .await?,
            ),
            Some(pb::send::Body::Reaction(r)) => pb::event::Body::Reaction(
                self.check_reaction(&send.conversation_id, &sender, &send.client_msg_id, r)
                    .await?,
            ),
            Some(pb::send::Body::Edit(e)) => {
                self.check_text(&e.text)?;
                self.check_mentions(&send.conversation_id, &e.mention_ids, e.mention_all)
                    .await?;
                let target = self
                    .target_message(&send.conversation_id, e.target_seq)
                    .await?;
                if target.sender_id != sender {
                    return Err(ServiceError::PermissionDenied(
                        "only the sender edits a message".into(),
                    ));
                }
                pb::event::Body::Edit(e)
            }
            Some(pb::send::Body::Delete(d)) => {
                // A retry of a delete that was stored answers as a retry
                // (the message reads as deleted by then).
                if self
                    .is_stored(&send.conversation_id, &sender, &send.client_msg_id)
                    .await?
                {
                    pb::event::Body::Delete(d)
                } else {
                    let target = self
                        .target_message(&send.conversation_id, d.target_seq)
                        .await?;
                    if target.sender_id != sender && !is_manager(&member) {
                        return Err(ServiceError::PermissionDenied(
                            "only the sender or an admin deletes a message".into(),
                        ));
                    }
                    self.record_delete(&send.conversation_id, d.target_seq)
                        .await?;
                    pb::event::Body::Delete(d)
                }
            }
            None => {
                return Err(ServiceError::InvalidArgument(
                    "send has no body (message, edit, delete, reaction, pin, update or role)"
                        .into(),
                ));
            }
        };
        let (event, duplicate) = self
            .commit(&send.conversation_id, &sender, &send.client_msg_id, body)
            .await?;
        match &event.body {
            Some(pb::event::Body::Edit(e)) => {
                self.record_edit(&send.conversation_id, e.target_seq, event.seq)
                    .await?;
            }
            Some(pb::event::Body::Delete(d)) => {
                self.redact_deleted(&send.conversation_id, d.target_seq, event.seq)
                    .await?;
            }
            _ => {}
        }
        Ok(pb::AppendReply {
            event: Some(event),
            duplicate,
        })
    }

    fn check_text(&self, text: &str) -> ServiceResult<()> {
        if text.is_empty() {
            return Err(ServiceError::InvalidArgument("text is empty".into()));
        }
        if text.len() > self.config.max_text_bytes {
            return Err(ServiceError::InvalidArgument(format!(
                "text is longer than {} bytes",
                self.config.max_text_bytes
            )));
        }
        Ok(())
    }

    /// The message event a reply, edit, delete, reaction, pin or forward
    /// refers to: a message of the conversation that was not deleted.
    pub(crate) async fn target_message(&self, conv: &str, seq: u64) -> ServiceResult<pb::Event> {
        match self.read_event(conv, seq).await? {
            Some(e) if matches!(e.body, Some(pb::event::Body::Message(_))) => {
                if self.message_state(conv, seq).await?.deleted {
                    return Err(ServiceError::InvalidArgument(format!(
                        "message {seq} was deleted"
                    )));
                }
                Ok(e)
            }
            Some(pb::Event {
                body: Some(pb::event::Body::Redacted(r)),
                ..
            }) if !r.edit => Err(ServiceError::InvalidArgument(format!(
                "message {seq} was deleted"
            ))),
            _ => Err(ServiceError::InvalidArgument(format!(
                "seq {seq} is not a message of this conversation"
            ))),
        }
    }

    pub(crate) async fn history(
        &self,
        req: pb::UserHistoryRequest,
    ) -> ServiceResult<pb::HistoryReply> {
        let reader = user_caller(req.caller.as_ref())?;
        let h = req
            .request
            .ok_or_else(|| ServiceError::InvalidArgument("request is required".into()))?;
        let conv = h.conversation_id.as_str();
        require_member(&*self.store, conv, &reader).await?;
        let visible_from = self
            .visible_from(&self.conversation_meta(conv).await?, &reader)
            .await?;
        let head = self.sequencer.stable_head(conv).await?;
        if h.thread_root_seq != 0 {
            return self.thread_history(h, head, visible_from).await;
        }
        let limit = page_limit("history", h.limit, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT)?;
        let requested_from = h.from_seq.max(visible_from);
        let requested_to = if h.to_seq == 0 {
            head
        } else {
            h.to_seq.min(head)
        };
        let (mut from, mut to) = (requested_from, requested_to);
        let empty = pb::HistoryReply {
            conversation_id: conv.to_string(),
            head_seq: head,
            visible_from,
            ..Default::default()
        };
        if from > to {
            return Ok(empty);
        }
        if to - from >= MAX_HISTORY_SPAN {
            if h.backward {
                from = to - MAX_HISTORY_SPAN + 1;
            } else {
                to = from + MAX_HISTORY_SPAN - 1;
            }
        }
        let events = self
            .store
            .read_range(
                conv,
                ReadRange {
                    from,
                    to,
                    limit,
                    backward: h.backward,
                },
            )
            .await?;
        let read = events.len();
        let reactions = self.reactions_of(conv, &events, head).await?;
        let paired = events.into_iter().zip(reactions);
        // Cut at the byte budget too (each event with its reactions): from
        // the oldest end going forward, from the newest end going backward.
        let (paired, cut) = if h.backward {
            let (mut page, cut) = take_page_by(paired.rev(), limit, REPLY_BUDGET_BYTES, paired_len);
            page.reverse();
            (page, cut)
        } else {
            take_page_by(paired, limit, REPLY_BUDGET_BYTES, paired_len)
        };
        let (events, reactions): (Vec<pb::Event>, Vec<Vec<pb::ReactionSummary>>) =
            paired.into_iter().unzip();
        let full = read == limit || cut;
        let (covered_from, covered_to) = match (h.backward, full) {
            (false, true) => (from, events.last().map_or(to, |e| e.seq)),
            (true, true) => (events.first().map_or(from, |e| e.seq), to),
            (_, false) => (from, to),
        };
        let has_more = if h.backward {
            covered_from > requested_from
        } else {
            covered_to < requested_to
        };
        let mut skipped = Vec::new();
        let mut expect = covered_from;
        for e in &events {
            skipped.extend(expect..e.seq);
            expect = e.seq + 1;
        }
        skipped.extend(expect..=covered_to);
        let threads = self.threads_of(conv, &events, head, &reader).await?;
        Ok(pb::HistoryReply {
            threads,
            events,
            skipped,
            covered_from,
            covered_to,
            has_more,
            reactions: reactions.into_iter().flatten().collect(),
            ..empty
        })
    }

    /// One page of the caller's conversations, in id order, each with its
    /// head and the caller's read watermark.
    pub(crate) async fn sync(&self, req: pb::SyncPageRequest) -> ServiceResult<pb::SyncReply> {
        let user = user_caller(req.caller.as_ref())?;
        let page = req.page.unwrap_or_default();
        let limit = page_limit("sync", page.limit, DEFAULT_SYNC_LIMIT, MAX_SYNC_LIMIT)?;
        let (order, filter) = list_kind(&page)?;
        let mut listed = self.listed(&user, order, filter).await?;
        listed.retain(|(key, _)| key.as_str() > page.after.as_str());
        let mut states = Vec::new();
        let mut used = 0;
        let mut next_after = String::new();
        let mut has_more = false;
        for (key, id) in listed {
            if states.len() == limit || used > REPLY_BUDGET_BYTES {
                has_more = true;
                break;
            }
            let Some(state) = self.conversation_state(&id, &user).await? else {
                continue;
            };
            used += prost::Message::encoded_len(&state) + 8;
            states.push(state);
            next_after = key;
        }
        Ok(pb::SyncReply {
            conversations: states,
            has_more,
            next_after: if has_more { next_after } else { String::new() },
        })
    }

    /// What sync tells about one conversation, or None if the user left it
    /// meanwhile.
    async fn conversation_state(
        &self,
        id: &str,
        user: &str,
    ) -> ServiceResult<Option<pb::ConversationState>> {
        let Some(mut conv) = self.store.conversation(id).await? else {
            return Ok(None);
        };
        let Some(me) = self.store.member(id, user).await? else {
            return Ok(None);
        };
        // Direct conversations carry their two members so a client can
        // name them; groups are fetched with GetConversation.
        if conv.kind == pb::ConversationKind::Direct as i32 {
            let pair = self.pair_state(id).await?;
            if pair.blocked_by.iter().any(|u| u == user) {
                // Out of the list of whoever blocked the other.
                return Ok(None);
            }
            conv.request = pair.request;
            conv.members = self.store.members(id).await?;
            conv.member_count = conv.members.len() as u32;
        }
        (conv.pins, conv.pins_seq) = self.pins_of(id).await?;
        let head_seq = self.sequencer.stable_head(id).await?;
        // One read of the member's settings serves both the history they
        // may see (a cleared history) and what the entry shows of them.
        let settings = self.store.settings(id, user).await?;
        let visible_from = self.visible_from_with(&conv, user, &settings).await?;
        // Pins of messages from before the member may read are not theirs.
        conv.pins.retain(|p| p.target_seq >= visible_from);
        let view = self
            .member_view(
                id,
                user,
                settings,
                me.read_seq.max(visible_from - 1),
                head_seq,
            )
            .await?;
        let last_message = view.last_message.filter(|m| m.seq >= visible_from);
        Ok(Some(pb::ConversationState {
            conversation: Some(conv),
            head_seq,
            read_seq: me.read_seq,
            settings: Some(view.settings),
            unread_count: view.unread_count,
            mention_count: view.mention_count,
            unread_capped: view.unread_capped,
            last_message,
            last_activity_ms: view.last_activity_ms,
        }))
    }

    pub(crate) async fn mark_read(&self, req: pb::MarkReadRequest) -> ServiceResult<pb::ReadState> {
        if req.thread_root_seq != 0 {
            return self.mark_thread_read(&req).await;
        }
        let reader = user_caller(req.caller.as_ref())?;
        let before = require_member(&*self.store, &req.conversation_id, &reader)
            .await?
            .read_seq;
        let head = self.sequencer.stable_head(&req.conversation_id).await?;
        let read_seq = self
            .store
            .set_read(&req.conversation_id, &reader, req.seq.min(head))
            .await?;
        self.clear_marked_unread(&req.conversation_id, &reader)
            .await?;
        Ok(pb::ReadState {
            conversation_id: req.conversation_id,
            user_id: reader,
            read_seq,
            raised: read_seq > before,
        })
    }
}
