use async_trait::async_trait;
use parley_core::services::{FanoutApi, PresenceApi, PresenceClient, StorageApi, StorageClient};
use parley_core::{Caller, ServiceResult};
use parley_ports::{EncodedFrame, EventBus, Push};
use parley_proto::v1 as pb;
use pb::server_frame::Payload;
use std::sync::Arc;

pub struct FanoutService {
    pub(crate) storage: StorageClient,
    pub(crate) presence: PresenceClient,
    pub(crate) bus: Arc<dyn EventBus>,
    stages: Stages,
}

/// Time of each step of a stored event's fanout, registered once (the
/// binary installs its metrics recorder before it builds services) rather
/// than looked up by name for every event.
struct Stages {
    members: metrics::Histogram,
    presence: metrics::Histogram,
    deliver: metrics::Histogram,
}

impl Stages {
    fn register() -> Self {
        let stage = |name: &'static str| metrics::histogram!("parley_fanout_stage_seconds", "stage" => name);
        Self {
            members: stage("members"),
            presence: stage("presence"),
            deliver: stage("deliver"),
        }
    }
}

fn push(payload: Payload) -> Push {
    Push::Frame(EncodedFrame::new(pb::ServerFrame {
        id: String::new(),
        payload: Some(payload),
    }))
}

impl FanoutService {
    pub fn new(storage: StorageClient, presence: PresenceClient, bus: Arc<dyn EventBus>) -> Self {
        Self {
            storage,
            presence,
            bus,
            stages: Stages::register(),
        }
    }

    /// The members of `conv`, as `caller` may see them: a user's signal
    /// (typing, receipt) is refused unless they are a member.
    async fn member_ids(&self, conv: &str, caller: Caller) -> ServiceResult<Vec<String>> {
        let req = pb::MembersRequest {
            conversation_id: conv.to_string(),
            caller: caller.to_proto(),
            ..Default::default()
        };
        Ok(self
            .storage
            .list_members(req)
            .await?
            .members
            .into_iter()
            .map(|m| m.user_id)
            .collect())
    }

    /// Delivers one stored event to every online member (and to a member it
    /// removes, who is no longer listed). Offline members would be handed
    /// to push notifications, which are not built yet: they catch up by sync.
    pub async fn deliver_stored(&self, event: pb::Event) -> ServiceResult<()> {
        let started = std::time::Instant::now();
        // Storage stored the event, so its recipients are looked up as the
        // system: the sender may have left since (a removal's own event).
        let mut recipients = self
            .member_ids(&event.conversation_id, Caller::System)
            .await?;
        let members_done = std::time::Instant::now();
        self.stages.members.record(members_done - started);
        if let Some(pb::event::Body::MemberRemoved(r)) = &event.body {
            recipients.push(r.user_id.clone());
        }
        let (online, offline) = match self
            .presence
            .query(pb::PresenceQuery {
                user_ids: recipients.clone(),
            })
            .await
        {
            Ok(p) => {
                let (on, off): (Vec<_>, Vec<_>) = p.users.into_iter().partition(|p| p.online);
                (on.into_iter().map(|p| p.user_id).collect::<Vec<_>>(), off)
            }
            // Without presence, deliver to everyone: an unsubscribed user
            // costs a dropped message, a missed online one costs latency.
            Err(e) => {
                metrics::counter!("parley_fanout_presence_errors_total").increment(1);
                tracing::debug!(error = %e, "presence unavailable; delivering to all members");
                (recipients, Vec::new())
            }
        };
        let presence_done = std::time::Instant::now();
        self.stages.presence.record(presence_done - members_done);
        metrics::counter!("parley_fanout_deliveries_total").increment(online.len() as u64);
        metrics::counter!("parley_fanout_offline_recipients_total").increment(offline.len() as u64);
        self.bus
            .deliver(&online, push(Payload::Event(event)))
            .await?;
        self.stages.deliver.record(presence_done.elapsed());
        Ok(())
    }
}

#[async_trait]
impl FanoutApi for FanoutService {
    async fn typing(&self, s: pb::TypingSignal) -> ServiceResult<pb::Empty> {
        let mut members = self
            .member_ids(&s.conversation_id, Caller::user(&s.user_id)?)
            .await?;
        members.retain(|m| *m != s.user_id);
        let p = push(Payload::Typing(pb::TypingPush {
            conversation_id: s.conversation_id,
            user_id: s.user_id,
        }));
        self.bus.deliver(&members, p).await?;
        Ok(pb::Empty {})
    }

    async fn presence_changed(&self, info: pb::PresenceInfo) -> ServiceResult<pb::Empty> {
        // Presence goes to whoever may see it: the user's contacts.
        let contacts = self
            .storage
            .contacts(pb::CallerRequest {
                caller: Caller::user(&info.user_id)?.to_proto(),
            })
            .await?
            .user_ids;
        self.bus
            .deliver(&contacts, push(Payload::PresenceChanged(info)))
            .await?;
        Ok(pb::Empty {})
    }

    async fn receipt(&self, r: pb::ReceiptSignal) -> ServiceResult<pb::Empty> {
        // Every member, the reader included: their other devices update too.
        let members = self
            .member_ids(&r.conversation_id, Caller::user(&r.user_id)?)
            .await?;
        let p = push(Payload::Receipt(pb::ReceiptPush {
            conversation_id: r.conversation_id,
            user_id: r.user_id,
            read_seq: r.read_seq,
        }));
        self.bus.deliver(&members, p).await?;
        Ok(pb::Empty {})
    }
}
