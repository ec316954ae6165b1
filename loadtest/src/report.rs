use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub(crate) fn from_us(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerSample {
    pub pid: u32,
    pub cpu_percent: f64,
    pub rss_kb: u64,
    pub max_rss_kb: u64,
}

/// The idle-connections scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    pub attempted: u64,
    pub open: u64,
    pub failures: u64,
    pub first_error: Option<String>,
    /// Connect + WebSocket upgrade + authenticate, per second, during the ramp.
    pub connects_per_sec: f64,
    pub connect_latency: Latency,
    pub server_rss_before_kb: u64,
    pub server_rss_after_kb: u64,
    pub server_bytes_per_connection: u64,
}

/// Delivery latency during one second of a run.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub second: u64,
    pub latency: Latency,
}

/// The reconnect-storm scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ReconnectReport {
    pub clients: u64,
    /// Clients whose connection the restart closed (all, when every gateway
    /// restarts; those of the stopped gateway when one of several stops).
    pub dropped: u64,
    pub reconnected: u64,
    /// How long the restart command took.
    pub restart_seconds: f64,
    /// From the start of the restart until the last client was back.
    pub seconds_to_all: f64,
    pub reconnects_per_sec: f64,
    /// From the start of the restart until each client was back.
    pub reconnect_latency: Latency,
}

/// The history scenario.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    pub head_seq: u64,
    pub events: u64,
    pub pages: u64,
    pub seconds: f64,
    pub events_per_sec: f64,
    pub page_latency: Latency,
}

/// The conversations scenario: listing a user's many conversations.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationListReport {
    pub conversations: u64,
    pub rounds: u64,
    /// Entries listed over all rounds (conversations x rounds when complete).
    pub listed: u64,
    /// Entries with the expected unread count (1) and a last message.
    pub checked: u64,
    pub pages_per_round: u64,
    pub setup_secs: f64,
    /// One sync page.
    pub page_latency: Latency,
    /// The whole list, every page.
    pub list_latency: Latency,
    /// The first 50 of the inbox in activity order (the first screen).
    pub first_screen_latency: Latency,
    /// A search over all the conversations (20 hits), if search is on.
    pub search_latency: Option<Latency>,
    /// The whole list read once in activity order, every page.
    pub whole_by_activity_ms: f64,
    /// Every first screen full and in order, and the whole list in
    /// activity order complete, each entry once.
    pub activity_ordered: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub clients: usize,
    pub conversations: usize,
    pub fanout: usize,
    pub target_rate: f64,
    pub measured_secs: f64,
    pub publishes: u64,
    pub acked: u64,
    pub send_errors: u64,
    /// Reactions sent beside the messages (--reactions-per-message), and
    /// those refused (a sender repeating an emoji on the same message).
    pub reactions_sent: u64,
    pub reactions_refused: u64,
    /// Messages sent as thread replies (--thread-replies).
    pub thread_replies: u64,
    pub publishes_per_sec: f64,
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub seq_mismatches: u64,
    pub ack_latency: Latency,
    pub delivery_latency: Latency,
    pub servers: Vec<ServerSample>,
    /// Only for the idle scenario.
    pub connections: Option<ConnectionReport>,
    /// Only for the history scenario.
    pub history: Option<HistoryReport>,
    /// Only for the conversations scenario.
    pub conversation_list: Option<ConversationListReport>,
    /// Only for the reconnect scenario.
    pub reconnect: Option<ReconnectReport>,
    /// Delivery latency per second (dm and group scenarios).
    pub timeline: Vec<TimelinePoint>,
    /// Wall-clock time (Unix ms) of second 0 of `timeline`, to line it up
    /// with samples taken outside the loader (threads, disk, files).
    pub timeline_start_unix_ms: u64,
    /// The machine and the servers in each second (same numbering).
    pub seconds: Vec<crate::seconds::SecondSample>,
    /// Share of the machine that was busy during the measured seconds
    /// (the loader included: it runs on the same CPUs).
    pub machine_busy_percent: f64,
}

impl Report {
    /// True when every acknowledged message reached every member exactly
    /// once, in order, with the same seq for all.
    pub fn correct(&self) -> bool {
        let history_ok = self.history.as_ref().is_none_or(|h| h.events == h.head_seq);
        let list_ok = self.conversation_list.as_ref().is_none_or(|l| {
            l.listed == l.conversations * l.rounds && l.checked == l.listed && l.activity_ordered
        });
        let reconnect_ok = self
            .reconnect
            .as_ref()
            .is_none_or(|r| r.dropped > 0 && r.reconnected == r.dropped);
        let connections_ok = self
            .connections
            .as_ref()
            .is_none_or(|c| c.failures == 0 && c.open == c.attempted);
        connections_ok
            && history_ok
            && list_ok
            && reconnect_ok
            && self.lost == 0
            && self.duplicates == 0
            && self.reordered == 0
            && self.seq_mismatches == 0
            && self.send_errors == 0
    }

    pub fn summary(&self) -> String {
        let l = |x: &Latency| {
            format!(
                "p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
                x.p50_ms, x.p90_ms, x.p99_ms, x.p999_ms, x.max_ms
            )
        };
        let mut s = String::new();
        if let Some(h) = &self.history {
            s += &format!(
                "history of {} events read in {} pages in {:.2} s: {:.0} events/s, page p50 {:.2} p99 {:.2} ms => {}\n",
                h.head_seq,
                h.pages,
                h.seconds,
                h.events_per_sec,
                h.page_latency.p50_ms,
                h.page_latency.p99_ms,
                if self.correct() { "CORRECT" } else { "FAILED" },
            );
        }
        if let Some(c) = &self.conversation_list {
            s += &format!(
                "{} conversations listed {} times ({} pages each; setup {:.1} s): page {}, whole list {}; by activity: first screen of 50 {}, whole list {:.0} ms, in order {}; search over all: {} => {}\n",
                c.conversations,
                c.rounds,
                c.pages_per_round,
                c.setup_secs,
                l(&c.page_latency),
                l(&c.list_latency),
                l(&c.first_screen_latency),
                c.whole_by_activity_ms,
                c.activity_ordered,
                c.search_latency.as_ref().map_or("off".to_string(), l),
                if self.correct() { "CORRECT" } else { "FAILED" },
            );
        }
        if let Some(r) = &self.reconnect {
            s += &format!(
                "reconnect storm: {} of {} clients dropped, {} back, all within {:.2} s of the restart ({:.2} s to restart), {:.0} reconnects/s, p50 {:.0} p99 {:.0} max {:.0} ms => {}\n",
                r.dropped,
                r.clients,
                r.reconnected,
                r.seconds_to_all,
                r.restart_seconds,
                r.reconnects_per_sec,
                r.reconnect_latency.p50_ms,
                r.reconnect_latency.p99_ms,
                r.reconnect_latency.max_ms,
                if self.correct() { "CORRECT" } else { "FAILED" },
            );
        }
        if self.connections.is_none()
            && self.history.is_none()
            && self.reconnect.is_none()
            && self.conversation_list.is_none()
        {
            s += &format!(
                "scenario {}: {} clients, {} conversations, fan-out {}\n\
             publishes {} ({:.0}/s, target {:.0}/s), acked {}, send errors {}\n\
             deliveries {} of {} expected ({:.0}/s)\n\
             lost {}, duplicates {}, reordered {}, seq mismatches {} => {}\n\
             ack latency      {}\n\
             delivery latency {}\n",
                self.scenario,
                self.clients,
                self.conversations,
                self.fanout,
                self.publishes,
                self.publishes_per_sec,
                self.target_rate,
                self.acked,
                self.send_errors,
                self.deliveries,
                self.deliveries_expected,
                self.deliveries_per_sec,
                self.lost,
                self.duplicates,
                self.reordered,
                self.seq_mismatches,
                if self.correct() { "CORRECT" } else { "FAILED" },
                l(&self.ack_latency),
                l(&self.delivery_latency),
            );
        }
        if self.reactions_sent > 0 {
            s += &format!(
                "reactions {} beside the messages ({} refused as already there)\n",
                self.reactions_sent, self.reactions_refused
            );
        }
        if self.thread_replies > 0 {
            s += &format!(
                "thread replies {} of the messages (each delivered and checked as a message)\n",
                self.thread_replies
            );
        }
        if let Some(c) = &self.connections {
            s += &format!(
                "connections {} of {} open ({} failed{}), {:.0} connects+auth/s, connect p50 {:.2} p99 {:.2} ms\n\
                 server RSS {} KiB -> {} KiB: {} bytes per connection\n",
                c.open,
                c.attempted,
                c.failures,
                c.first_error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                c.connects_per_sec,
                c.connect_latency.p50_ms,
                c.connect_latency.p99_ms,
                c.server_rss_before_kb,
                c.server_rss_after_kb,
                c.server_bytes_per_connection,
            );
        }
        if self.machine_busy_percent > 0.0 {
            s += &format!(
                "machine busy {:.0}% over the measured seconds\n",
                self.machine_busy_percent
            );
        }
        for srv in &self.servers {
            s += &format!(
                "server pid {}: cpu {:.0}%, rss {} KiB (max {} KiB)\n",
                srv.pid, srv.cpu_percent, srv.rss_kb, srv.max_rss_kb
            );
        }
        s
    }
}
