//! A connection's part in its user's presence: attach when it opens,
//! heartbeat while it lives, detach when it closes; a change (first
//! connection, last one gone) is announced to the user's contacts.

use super::ConnHandle;
use crate::Gateway;
use parley_core::services::{FanoutApi, PresenceApi};
use parley_proto::v1 as pb;
use std::sync::Arc;
use std::time::Duration;

/// The connection as presence knows it: with this gateway's id, so that
/// fanout routes the user's deliveries here.
fn session(gw: &Gateway, conn: &ConnHandle) -> pb::PresenceSession {
    pb::PresenceSession {
        user_id: conn.user_id.clone(),
        connection_id: conn.id.clone(),
        gateway_id: gw.registry.gateway_id().to_string(),
    }
}

pub(crate) async fn attach(gw: &Arc<Gateway>, conn: &ConnHandle) {
    match gw.presence.attach(session(gw, conn)).await {
        Ok(u) if u.changed => announce(gw, u.info),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "presence attach failed"),
    }
}

pub(crate) async fn heartbeat(gw: &Gateway, conn: &ConnHandle) {
    if let Err(e) = gw.presence.heartbeat(session(gw, conn)).await {
        tracing::debug!(error = %e, "presence heartbeat failed");
    }
}

pub(crate) async fn detach(gw: &Arc<Gateway>, conn: &ConnHandle) {
    match gw.presence.detach(session(gw, conn)).await {
        Ok(u) if u.changed => announce(gw, u.info),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "presence detach failed"),
    }
}

/// Tells the user's contacts, off the connection's path.
fn announce(gw: &Arc<Gateway>, info: Option<pb::PresenceInfo>) {
    let Some(info) = info else { return };
    let fanout = gw.fanout.clone();
    gw.tracker.spawn(async move {
        let r = tokio::time::timeout(Duration::from_secs(10), fanout.presence_changed(info)).await;
        if !matches!(r, Ok(Ok(_))) {
            tracing::debug!("presence change not announced");
        }
    });
}
