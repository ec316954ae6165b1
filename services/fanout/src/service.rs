use crate::coalescer::Coalescer;
use crate::recipients::{Ids, Recipients};
use crate::{Delivery, FanoutConfig};
use async_trait::async_trait;
use parley_core::services::{FanoutApi, PresenceApi, PresenceClient, StorageApi, StorageClient};
use parley_core::{Caller, ServiceResult};
use parley_ports::{Broadcast, EncodedFrame, EventBus, GatewayRoute, Push};
use parley_proto::v1 as pb;
use pb::server_frame::Payload;
use std::collections::HashMap;
use std::sync::Arc;

pub struct FanoutService {
    pub(crate) storage: StorageClient,
    pub(crate) presence: PresenceClient,
    pub(crate) bus: Arc<dyn EventBus>,
    recipients: Recipients,
    delivery: Delivery,
    broadcasts: Coalescer,
    stages: Stages,
}

/// Time of each step of a stored event's fanout, registered once (the
/// binary installs its metrics recorder before it builds services) rather
/// than looked up by name for every event.
struct Stages {
    members: metrics::Histogram,
    presence: metrics::Histogram,
    deliver: metrics::Histogram,
    /// Presence mode only: recipients online and offline.
    deliveries: metrics::Counter,
    offline: metrics::Counter,
    bus_messages: metrics::Counter,
}

impl Stages {
    fn register() -> Self {
        let stage = |name: &'static str| metrics::histogram!("parley_fanout_stage_seconds", "stage" => name);
        Self {
            members: stage("members"),
            presence: stage("presence"),
            deliver: stage("deliver"),
            deliveries: metrics::counter!("parley_fanout_deliveries_total"),
            offline: metrics::counter!("parley_fanout_offline_recipients_total"),
            bus_messages: metrics::counter!("parley_fanout_bus_messages_total"),
        }
    }
}

fn push(payload: Payload) -> Push {
    Push::Frame(EncodedFrame::new(pb::ServerFrame {
        id: String::new(),
        payload: Some(payload),
    }))
}

/// Where a push goes: one bus message per gateway, plus the users whose
/// gateway is unknown (addressed by user).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    pub(crate) routes: Vec<GatewayRoute>,
    pub(crate) by_user: Vec<String>,
    pub(crate) online: usize,
}

/// Groups the online users of `routes` by gateway (a user connected to two
/// gateways is listed under both).
pub(crate) fn plan(routes: Vec<pb::UserRoute>) -> Plan {
    let mut by_gateway: HashMap<String, Vec<String>> = HashMap::new();
    let mut plan = Plan {
        online: routes.len(),
        ..Plan::default()
    };
    for r in routes {
        match r.gateway_ids.as_slice() {
            [] => plan.by_user.push(r.user_id),
            [only] => by_gateway.entry(only.clone()).or_default().push(r.user_id),
            many => {
                for g in many {
                    by_gateway
                        .entry(g.clone())
                        .or_default()
                        .push(r.user_id.clone());
                }
            }
        }
    }
    plan.routes = by_gateway
        .into_iter()
        .map(|(gateway, users)| GatewayRoute { gateway, users })
        .collect();
    plan
}

impl FanoutService {
    pub fn new(
        storage: StorageClient,
        presence: PresenceClient,
        bus: Arc<dyn EventBus>,
        config: &FanoutConfig,
    ) -> Self {
        Self {
            recipients: Recipients::new(storage.clone()),
            storage,
            presence,
            broadcasts: Coalescer::spawn(bus.clone()),
            bus,
            delivery: config.delivery,
            stages: Stages::register(),
        }
    }

    /// Sends `push` to those of `users` who are connected.
    async fn send(&self, users: Ids, push: Push) -> ServiceResult<()> {
        match self.delivery {
            Delivery::Broadcast => {
                let started = std::time::Instant::now();
                let trace = parley_core::trace::current_headers();
                self.broadcasts
                    .send(Broadcast { users, push, trace })
                    .await?;
                self.stages.deliver.record(started.elapsed());
                Ok(())
            }
            Delivery::Presence => self.send_by_presence(&users, push).await,
        }
    }

    /// One bus message per gateway holding some of `users` who are online.
    /// Without presence, to every user by their own subject (an
    /// unsubscribed user costs a dropped message, a missed online one
    /// costs latency).
    async fn send_by_presence(&self, users: &[String], push: Push) -> ServiceResult<()> {
        let started = std::time::Instant::now();
        let routes = self
            .presence
            .routes(pb::PresenceQuery {
                user_ids: users.to_vec(),
            })
            .await;
        let asked = std::time::Instant::now();
        self.stages.presence.record(asked - started);
        match routes {
            Ok(r) => {
                let plan = plan(r.users);
                self.stages
                    .offline
                    .increment(users.len().saturating_sub(plan.online) as u64);
                self.stages.deliveries.increment(plan.online as u64);
                self.stages
                    .bus_messages
                    .increment(plan.routes.len() as u64 + plan.by_user.len() as u64);
                if !plan.routes.is_empty() {
                    self.bus.deliver_routed(&plan.routes, push.clone()).await?;
                }
                if !plan.by_user.is_empty() {
                    self.bus.deliver(&plan.by_user, push).await?;
                }
            }
            Err(e) => {
                metrics::counter!("parley_fanout_presence_errors_total").increment(1);
                tracing::debug!(error = %e, "presence unavailable; delivering to all members");
                self.bus.deliver(users, push).await?;
            }
        }
        self.stages.deliver.record(asked.elapsed());
        Ok(())
    }

    /// Delivers one stored event to every online member (and to a member
    /// it removes, who is no longer listed). Offline members would be
    /// handed to push notifications, which are not built yet: they catch
    /// up by sync.
    /// `members`: the member list version the event was stored under.
    pub async fn deliver_stored(
        &self,
        event: &pb::Event,
        members: Option<pb::MembersVersion>,
    ) -> ServiceResult<()> {
        let started = std::time::Instant::now();
        // Storage stored the event, so its recipients are looked up as the
        // system: the sender may have left since (a removal's own event).
        let members = self
            .recipients
            .of_event(&event.conversation_id, members)
            .await?;
        self.stages.members.record(started.elapsed());
        let push = push(Payload::Event(event.clone()));
        match &event.body {
            Some(pb::event::Body::MemberRemoved(r)) => {
                let mut with_removed = members.to_vec();
                with_removed.push(r.user_id.clone());
                self.send(with_removed.into(), push).await
            }
            _ => self.send(members, push).await,
        }
    }
}

#[async_trait]
impl FanoutApi for FanoutService {
    async fn typing(&self, s: pb::TypingSignal) -> ServiceResult<pb::Empty> {
        let mut members = self
            .recipients
            .for_signal(&s.conversation_id, Caller::user(&s.user_id)?)
            .await?;
        members.retain(|m| *m != s.user_id);
        let p = push(Payload::Typing(pb::TypingPush {
            conversation_id: s.conversation_id,
            user_id: s.user_id,
        }));
        self.send(members.into(), p).await?;
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
        self.send(contacts.into(), push(Payload::PresenceChanged(info)))
            .await?;
        Ok(pb::Empty {})
    }

    async fn receipt(&self, r: pb::ReceiptSignal) -> ServiceResult<pb::Empty> {
        // Every member, the reader included: their other devices update too.
        let members = self
            .recipients
            .for_signal(&r.conversation_id, Caller::user(&r.user_id)?)
            .await?;
        let p = push(Payload::Receipt(pb::ReceiptPush {
            conversation_id: r.conversation_id,
            user_id: r.user_id,
            read_seq: r.read_seq,
        }));
        self.send(members.into(), p).await?;
        Ok(pb::Empty {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(user: &str, gateways: &[&str]) -> pb::UserRoute {
        pb::UserRoute {
            user_id: user.into(),
            gateway_ids: gateways.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn users_are_grouped_by_gateway_and_unknown_gateways_go_by_user() {
        let mut p = plan(vec![
            route("a", &["g1"]),
            route("b", &["g2"]),
            route("c", &["g1", "g2"]),
            route("d", &[]),
            route("e", &["g1"]),
        ]);
        p.routes.sort_by(|x, y| x.gateway.cmp(&y.gateway));
        assert_eq!(p.online, 5);
        assert_eq!(p.by_user, vec!["d".to_string()]);
        assert_eq!(
            p.routes,
            vec![
                GatewayRoute {
                    gateway: "g1".into(),
                    users: vec!["a".into(), "c".into(), "e".into()]
                },
                GatewayRoute {
                    gateway: "g2".into(),
                    users: vec!["b".into(), "c".into()]
                },
            ]
        );
        assert_eq!(plan(vec![]), Plan::default());
    }
}
