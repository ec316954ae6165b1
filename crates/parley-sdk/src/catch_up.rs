//! Catching up and ordering: after every (re)connect a sync, then the
//! history each conversation missed since what was last delivered; live
//! events go through a per-conversation `Timeline` (seq order, exactly
//! once), and a gap that is still open after `GAP_GRACE` starts a pull of
//! the missing range.

use crate::client::{Client, ClientEvent};
use crate::timeline::Timeline;
use parley_proto::v1 as pb;
use pb::server_frame::Payload;

/// Most events delivered from before the point where a client first saw a
/// conversation; older history is for the app to load with `history`.
pub const BACKFILL: u64 = 200;

/// How long a gap may stay open before it is pulled from history. Live
/// pushes of one conversation can overtake each other (several fanout
/// workers, in split mode): pulling at once turned most such overtakings
/// into a history request (measured: ~70% of sends in a two-worker
/// cluster). A push lost for good costs this much more latency.
pub const GAP_GRACE: std::time::Duration = std::time::Duration::from_millis(150);

impl Client {
    /// After (re)connecting: sync, then pull whatever each conversation
    /// missed since what was last delivered.
    pub(crate) async fn catch_up(self) {
        let Ok(sync) = self.sync().await else { return };
        for state in sync.conversations {
            let Some(conv) = state.conversation else {
                continue;
            };
            let from = {
                let mut tl = self.inner.timelines.lock();
                // A conversation never seen before starts at its read
                // watermark (what is unread is delivered), at most
                // BACKFILL events back.
                tl.entry(conv.id.clone())
                    .or_insert_with(|| {
                        Timeline::starting_after(
                            state.read_seq.max(state.head_seq.saturating_sub(BACKFILL)),
                        )
                    })
                    .delivered()
                    + 1
            };
            if state.head_seq >= from {
                self.pull(&conv.id, from, state.head_seq).await;
            }
        }
    }

    /// Fetches [from, to] from history into the timeline.
    async fn pull(&self, conv: &str, from: u64, to: u64) {
        let mut next = from;
        while next <= to {
            let req = pb::HistoryRequest {
                conversation_id: conv.into(),
                from_seq: next,
                to_seq: to,
                limit: 500,
                backward: false,
                thread_root_seq: 0,
            };
            let Ok(h) = self.history(req).await else {
                return;
            };
            {
                let mut tl = self.inner.timelines.lock();
                let t = tl.entry(conv.to_string()).or_default();
                for out in t.start_at(h.visible_from) {
                    let _ = self.inner.events.send(ClientEvent::Event(out));
                }
                for e in h.events {
                    for out in t.push(e) {
                        let _ = self.inner.events.send(ClientEvent::Event(out));
                    }
                }
                for out in t.skip(&h.skipped) {
                    let _ = self.inner.events.send(ClientEvent::Event(out));
                }
            }
            if h.covered_to < next {
                return;
            }
            next = h.covered_to + 1;
        }
    }

    pub(crate) fn handle_push(&self, frame: pb::ServerFrame) {
        match frame.payload {
            Some(Payload::Event(e)) => self.ingest(e),
            Some(Payload::Typing(t)) => self.emit(ClientEvent::Typing(t)),
            Some(Payload::PresenceChanged(p)) => self.emit(ClientEvent::Presence(p)),
            Some(Payload::Receipt(r)) => self.emit(ClientEvent::Receipt(r)),
            Some(Payload::SettingsChanged(s)) => self.emit(ClientEvent::SettingsChanged(s)),
            Some(Payload::Invited(i)) => self.emit(ClientEvent::Invited(i)),
            Some(Payload::InvitationGone(g)) => self.emit(ClientEvent::InvitationGone(g)),
            _ => {}
        }
    }

    fn ingest(&self, e: pb::Event) {
        let conv = e.conversation_id.clone();
        let gap = {
            let mut tl = self.inner.timelines.lock();
            // A conversation first seen live is one just joined (read
            // watermark 0). Its pushes may arrive out of order (several
            // fanout workers), so the first one seen is not necessarily the
            // first one: catch up from BACKFILL events before it.
            let t = tl
                .entry(conv.clone())
                .or_insert_with(|| Timeline::starting_after(e.seq.saturating_sub(BACKFILL + 1)));
            for out in t.push(e) {
                let _ = self.inner.events.send(ClientEvent::Event(out));
            }
            t.gap()
        };
        if let Some(gap) = gap {
            let mut pulling = self.inner.pulling.lock();
            let already = pulling.get(&conv).copied().unwrap_or(0);
            if *gap.end() > already {
                pulling.insert(conv.clone(), *gap.end());
                let me = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(GAP_GRACE).await;
                    // Whatever is still missing below what was seen then.
                    let open = me
                        .inner
                        .timelines
                        .lock()
                        .get(&conv)
                        .map(Timeline::delivered)
                        .unwrap_or(0);
                    if open < *gap.end() {
                        me.pull(&conv, open + 1, *gap.end()).await;
                    }
                    me.inner.pulling.lock().remove(&conv);
                });
            }
        }
    }
}
