//! One typed method per request of the protocol (docs/protocol.md), over
//! `Client::request`. Idempotent requests are retried across reconnects;
//! sends go through the outbox and keep their client_msg_id.

use crate::SdkError;
use crate::client::{Client, new_client_msg_id};
use parley_proto::v1 as pb;
use pb::client_frame::Request;
use pb::server_frame::Payload;
use std::time::Duration;

/// Sends retried while the server answers `unavailable`, before giving up.
const SEND_ATTEMPTS: u32 = 15;

impl Client {
    /// Sends through the outbox: retried with the same client_msg_id until
    /// acknowledged, across reconnects.
    pub async fn send(&self, send: pb::Send) -> Result<pb::SendAck, SdkError> {
        let key = send.client_msg_id.clone();
        self.inner.outbox.lock().insert(key.clone(), send.clone());
        // Retried, with the same client_msg_id, across reconnects, while
        // the server reports itself unavailable, and after the wait a rate
        // limit asks for: it can only be stored once.
        let mut backoff = Duration::from_millis(100);
        let mut attempts = 0;
        let result = loop {
            match self.request_retrying(Request::Send(send.clone())).await {
                Err(SdkError::Server {
                    code,
                    retry_after_ms,
                    ..
                }) if code == "rate_limited" && attempts < SEND_ATTEMPTS * 10 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(retry_after_ms.max(10))))
                        .await;
                }
                Err(SdkError::Server { code, .. })
                    if code == "unavailable" && attempts < SEND_ATTEMPTS =>
                {
                    attempts += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                other => break other,
            }
        };
        self.inner.outbox.lock().remove(&key);
        match result? {
            Payload::Ack(a) => Ok(a),
            other => Err(SdkError::Protocol(format!("expected ack, got {other:?}"))),
        }
    }

    /// Sends `body` to a conversation under a fresh client_msg_id (through
    /// the outbox, as `send`).
    pub async fn send_body(
        &self,
        conversation_id: &str,
        body: pb::send::Body,
    ) -> Result<pb::SendAck, SdkError> {
        self.send(pb::Send {
            conversation_id: conversation_id.into(),
            client_msg_id: new_client_msg_id(),
            body: Some(body),
        })
        .await
    }

    /// Forwards the message at `seq` of one conversation to another (both
    /// yours): a copy as it reads now, marked with its original author.
    /// Retried under one client_msg_id, so a lost reply never forwards twice.
    pub async fn forward(
        &self,
        from_conversation_id: &str,
        seq: u64,
        to_conversation_id: &str,
    ) -> Result<pb::SendAck, SdkError> {
        let r = Request::Forward(pb::Forward {
            from_conversation_id: from_conversation_id.into(),
            seq,
            to_conversation_id: to_conversation_id.into(),
            client_msg_id: new_client_msg_id(),
        });
        match self.request_retrying(r).await? {
            Payload::Ack(a) => Ok(a),
            other => Err(SdkError::Protocol(format!("expected ack, got {other:?}"))),
        }
    }

    /// Full-text search of your conversations (`conversation_id` empty:
    /// all of them), best hits first.
    pub async fn search(&self, req: pb::SearchRequest) -> Result<Vec<pb::SearchHit>, SdkError> {
        match self.request_retrying(Request::Search(req)).await? {
            Payload::Search(s) => Ok(s.hits),
            other => Err(SdkError::Protocol(format!(
                "expected search hits, got {other:?}"
            ))),
        }
    }

    pub async fn send_text(
        &self,
        conversation_id: &str,
        text: &str,
    ) -> Result<pb::SendAck, SdkError> {
        let message = pb::MessageBody {
            text: text.into(),
            ..Default::default()
        };
        self.send_body(conversation_id, pb::send::Body::Message(message))
            .await
    }

    /// Sends a message with its mentions (members' ids, or everyone with
    /// `mention_all` in a group) and, if `reply_to_seq` is not 0, as a reply.
    pub async fn send_message(
        &self,
        conversation_id: &str,
        message: pb::MessageBody,
    ) -> Result<pb::SendAck, SdkError> {
        self.send_body(conversation_id, pb::send::Body::Message(message))
            .await
    }

    /// Adds (or, with `remove`, takes back) the caller's reaction to the
    /// message at `target_seq`: one Unicode emoji or its `:shortcode:`.
    pub async fn react(
        &self,
        conversation_id: &str,
        target_seq: u64,
        emoji: &str,
        remove: bool,
    ) -> Result<pb::SendAck, SdkError> {
        let reaction = pb::ReactionBody {
            target_seq,
            emoji: emoji.into(),
            remove,
        };
        self.send_body(conversation_id, pb::send::Body::Reaction(reaction))
            .await
    }

    /// Pins the message at `target_seq` to the conversation, or with
    /// `unpin` takes the pin away.
    pub async fn pin(
        &self,
        conversation_id: &str,
        target_seq: u64,
        unpin: bool,
    ) -> Result<pb::SendAck, SdkError> {
        let pin = pb::PinBody { target_seq, unpin };
        self.send_body(conversation_id, pb::send::Body::Pin(pin))
            .await
    }

    /// Renames and/or describes a group, or sets who sees its earlier
    /// history (admins and the owner); a `None` field stays as it is.
    pub async fn update_conversation(
        &self,
        conversation_id: &str,
        update: pb::ConversationUpdate,
    ) -> Result<pb::SendAck, SdkError> {
        self.send_body(conversation_id, pb::send::Body::Update(update))
            .await
    }

    /// Changes a member's role (the owner only); `Role::Owner` hands
    /// ownership over (the caller becomes an admin).
    pub async fn set_role(
        &self,
        conversation_id: &str,
        user_id: &str,
        role: pb::Role,
    ) -> Result<pb::SendAck, SdkError> {
        let change = pb::RoleChange {
            user_id: user_id.into(),
            role: role as i32,
        };
        self.send_body(conversation_id, pb::send::Body::Role(change))
            .await
    }

    pub async fn create_direct(&self, user_id: &str) -> Result<pb::Conversation, SdkError> {
        conversation(
            self.request_retrying(Request::CreateDirect(pb::CreateDirect {
                user_id: user_id.into(),
            }))
            .await?,
        )
    }

    /// Not retried on its own: a group created twice is two groups.
    pub async fn create_group(
        &self,
        title: &str,
        member_ids: &[String],
    ) -> Result<pb::Conversation, SdkError> {
        let r = Request::CreateGroup(pb::CreateGroup {
            title: title.into(),
            member_ids: member_ids.to_vec(),
        });
        conversation(self.request(r).await?)
    }

    pub async fn add_members(
        &self,
        conversation_id: &str,
        user_ids: &[String],
        role: pb::Role,
    ) -> Result<pb::SendAck, SdkError> {
        let r = Request::AddMembers(pb::AddMembers {
            conversation_id: conversation_id.into(),
            user_ids: user_ids.to_vec(),
            role: role as i32,
        });
        match self.request(r).await? {
            Payload::Ack(a) => Ok(a),
            other => Err(SdkError::Protocol(format!("expected ack, got {other:?}"))),
        }
    }

    pub async fn remove_member(
        &self,
        conversation_id: &str,
        user_id: &str,
    ) -> Result<pb::SendAck, SdkError> {
        let r = Request::RemoveMember(pb::RemoveMember {
            conversation_id: conversation_id.into(),
            user_id: user_id.into(),
        });
        match self.request(r).await? {
            Payload::Ack(a) => Ok(a),
            other => Err(SdkError::Protocol(format!("expected ack, got {other:?}"))),
        }
    }

    /// Every conversation of the user (all sync pages).
    pub async fn sync(&self) -> Result<pb::SyncReply, SdkError> {
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let page = self
                .list_page(pb::SyncRequest {
                    after,
                    ..Default::default()
                })
                .await?;
            all.extend(page.conversations);
            if !page.has_more || page.next_after.is_empty() {
                break;
            }
            after = page.next_after;
        }
        Ok(pb::SyncReply {
            conversations: all,
            ..Default::default()
        })
    }

    /// Replaces the caller's own settings of a conversation (mute, archive,
    /// pin to the top, marked unread); returns what was stored.
    pub async fn update_settings(
        &self,
        conversation_id: &str,
        settings: pb::ConversationSettings,
    ) -> Result<pb::ConversationSettings, SdkError> {
        let r = Request::UpdateSettings(pb::UpdateSettings {
            conversation_id: conversation_id.into(),
            settings: Some(settings),
        });
        match self.request_retrying(r).await? {
            Payload::Settings(s) => Ok(s.settings.unwrap_or_default()),
            other => Err(SdkError::Protocol(format!(
                "expected settings, got {other:?}"
            ))),
        }
    }

    /// Blocks a user (no messages either way in your direct conversation,
    /// no invitations or requests from them, no presence either way).
    pub async fn block(&self, user_id: &str) -> Result<(), SdkError> {
        let r = Request::Block(pb::Block {
            user_id: user_id.into(),
        });
        self.expect_ok(r).await
    }

    pub async fn unblock(&self, user_id: &str) -> Result<(), SdkError> {
        let r = Request::Unblock(pb::Unblock {
            user_id: user_id.into(),
        });
        self.expect_ok(r).await
    }

    /// Whom you blocked.
    pub async fn blocked(&self) -> Result<Vec<String>, SdkError> {
        match self
            .request_retrying(Request::ListBlocked(pb::ListBlocked {}))
            .await?
        {
            Payload::Blocked(b) => Ok(b.user_ids),
            other => Err(SdkError::Protocol(format!(
                "expected blocked, got {other:?}"
            ))),
        }
    }

    /// Your pending group invitations, newest first.
    pub async fn invitations(&self) -> Result<Vec<pb::Invitation>, SdkError> {
        let r = Request::ListInvitations(pb::ListInvitations {});
        match self.request_retrying(r).await? {
            Payload::Invitations(i) => Ok(i.invitations),
            other => Err(SdkError::Protocol(format!(
                "expected invitations, got {other:?}"
            ))),
        }
    }

    /// Accepts (the conversation is returned) or declines a group
    /// invitation or a message request. Not retried by itself: an answer
    /// is taken once, and a retry after a lost reply would find nothing
    /// left to answer.
    pub async fn respond(
        &self,
        conversation_id: &str,
        accept: bool,
        block: bool,
    ) -> Result<Option<pb::Conversation>, SdkError> {
        let r = Request::Respond(pb::Respond {
            conversation_id: conversation_id.into(),
            accept,
            block,
        });
        match self.request(r).await? {
            Payload::Conversation(c) => Ok(Some(c)),
            Payload::Ok(_) => Ok(None),
            other => Err(SdkError::Protocol(format!(
                "expected a conversation, got {other:?}"
            ))),
        }
    }

    async fn expect_ok(&self, r: Request) -> Result<(), SdkError> {
        match self.request_retrying(r).await? {
            Payload::Ok(_) => Ok(()),
            other => Err(SdkError::Protocol(format!("expected ok, got {other:?}"))),
        }
    }

    /// One sync page: conversations after the id `after` (empty: the first
    /// page), at most `limit` (0: the server's default).
    pub async fn sync_page(&self, after: &str, limit: u32) -> Result<pb::SyncReply, SdkError> {
        self.list_page(pb::SyncRequest {
            after: after.into(),
            limit,
            ..Default::default()
        })
        .await
    }

    /// One page of the conversation list in the order and with the filter
    /// `page` asks for (`SYNC_ORDER_ACTIVITY` is the list as shown: pinned,
    /// then the most recently active); page on with the reply's
    /// `next_after` as `after` and the same order and filter.
    pub async fn list_page(&self, page: pb::SyncRequest) -> Result<pb::SyncReply, SdkError> {
        match self.request_retrying(Request::Sync(page)).await? {
            Payload::Sync(s) => Ok(s),
            other => Err(SdkError::Protocol(format!("expected sync, got {other:?}"))),
        }
    }

    /// One page of a conversation's members, after the user id `after`.
    pub async fn list_members(
        &self,
        conversation_id: &str,
        after: &str,
        limit: u32,
    ) -> Result<pb::MembersPage, SdkError> {
        let r = Request::ListMembers(pb::ListMembers {
            conversation_id: conversation_id.into(),
            after: after.into(),
            limit,
        });
        match self.request_retrying(r).await? {
            Payload::Members(m) => Ok(m),
            other => Err(SdkError::Protocol(format!(
                "expected members, got {other:?}"
            ))),
        }
    }

    pub async fn history(&self, req: pb::HistoryRequest) -> Result<pb::HistoryReply, SdkError> {
        match self.request_retrying(Request::History(req)).await? {
            Payload::History(h) => Ok(h),
            other => Err(SdkError::Protocol(format!(
                "expected history, got {other:?}"
            ))),
        }
    }

    /// Raises your read mark in the thread under `root_seq` (the
    /// conversation's own watermark stays); returns the mark.
    pub async fn mark_thread_read(
        &self,
        conversation_id: &str,
        root_seq: u64,
        seq: u64,
    ) -> Result<u64, SdkError> {
        let r = Request::MarkRead(pb::MarkRead {
            conversation_id: conversation_id.into(),
            seq,
            thread_root_seq: root_seq,
        });
        match self.request_retrying(r).await? {
            Payload::Read(r) => Ok(r.read_seq),
            other => Err(SdkError::Protocol(format!(
                "expected read ack, got {other:?}"
            ))),
        }
    }

    pub async fn mark_read(&self, conversation_id: &str, seq: u64) -> Result<u64, SdkError> {
        match self
            .request_retrying(Request::MarkRead(pb::MarkRead {
                conversation_id: conversation_id.into(),
                seq,
                thread_root_seq: 0,
            }))
            .await?
        {
            Payload::Read(r) => Ok(r.read_seq),
            other => Err(SdkError::Protocol(format!(
                "expected read ack, got {other:?}"
            ))),
        }
    }

    pub async fn typing(&self, conversation_id: &str) -> Result<(), SdkError> {
        self.request(Request::Typing(pb::TypingRequest {
            conversation_id: conversation_id.into(),
        }))
        .await
        .map(|_| ())
    }

    pub async fn lookup_users(&self, usernames: &[&str]) -> Result<Vec<pb::User>, SdkError> {
        let r = Request::LookupUsers(pb::LookupUsers {
            usernames: usernames.iter().map(|s| s.to_string()).collect(),
            user_ids: vec![],
        });
        match self.request_retrying(r).await? {
            Payload::Users(u) => Ok(u.users),
            other => Err(SdkError::Protocol(format!("expected users, got {other:?}"))),
        }
    }

    pub async fn query_presence(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<pb::PresenceInfo>, SdkError> {
        match self
            .request_retrying(Request::QueryPresence(pb::QueryPresence {
                user_ids: user_ids.to_vec(),
            }))
            .await?
        {
            Payload::Presence(p) => Ok(p.users),
            other => Err(SdkError::Protocol(format!(
                "expected presence, got {other:?}"
            ))),
        }
    }
}

fn conversation(p: Payload) -> Result<pb::Conversation, SdkError> {
    match p {
        Payload::Conversation(c) => Ok(c),
        other => Err(SdkError::Protocol(format!(
            "expected conversation, got {other:?}"
        ))),
    }
}
