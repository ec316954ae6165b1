//! One load run: set up, send open loop, verify, report.

use crate::ledger::Ledger;
use crate::procstat::Sampler;
use crate::report::{Latency, Report, TimelinePoint};
use crate::setup::clients;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use parley_sdk::{ClientEvent, Encoding, pb};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Scenario {
    /// Direct messages between fixed pairs of users.
    Dm,
    /// Groups of `group_size`; every member publishes.
    Group,
    /// `connections` authenticated WebSockets opened and held (capacity,
    /// connect rate, server memory per connection); nothing is sent.
    Idle,
    /// One conversation filled with `messages` messages, then read back
    /// through history pages by a device that was never online.
    History,
    /// One user in `conversations` groups with an unread message each;
    /// a fresh sign-in lists them all (every sync page), five times.
    Conversations,
    /// `clients` connected clients, then `restart_cmd` (e.g. restarting a
    /// gateway): how long until every client is connected again.
    Reconnect,
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Gateway base URLs (clients are spread over them).
    pub urls: Vec<String>,
    pub scenario: Scenario,
    /// Users (one connection each).
    pub clients: usize,
    pub group_size: usize,
    /// Group scenario: this many groups over the same users (each user in
    /// several); 0 means disjoint groups, `clients / group_size` of them.
    pub groups: usize,
    /// Publishes per second, all senders together.
    pub rate: f64,
    /// Measured phase.
    pub duration: Duration,
    /// Sends before measuring (verified, not timed).
    pub warmup: Duration,
    /// After the last send, how long deliveries may still take.
    pub grace: Duration,
    pub payload_bytes: usize,
    pub user_prefix: String,
    pub login_concurrency: usize,
    pub encoding: Encoding,
    /// Server processes to sample (CPU, RSS).
    pub server_pids: Vec<u32>,
    /// Sends allowed in flight before the generator itself counts as saturated.
    pub max_in_flight: usize,
    /// Group and DM scenarios: reactions sent per message, each by the
    /// message's sender to the newest acknowledged message of the
    /// conversation (extra timeline events on the same path).
    pub reactions_per_message: f64,
    /// Group and DM scenarios: the share of messages sent as replies in
    /// the thread of the conversation's first message (0.0 to 1.0); they
    /// are checked like every other message.
    pub thread_replies: f64,
    pub progress: bool,
    /// Idle scenario: connections to open (over `clients` users' tokens).
    pub connections: usize,
    /// Idle scenario: connections opening at once.
    pub connect_concurrency: usize,
    /// Idle scenario: loopback source addresses 127.0.0.1..=127.0.0.N.
    pub source_addrs: u8,
    /// History scenario: messages in the conversation.
    pub messages: usize,
    /// Conversations scenario: conversations of the listing user.
    pub list_conversations: usize,
    /// Reconnect scenario: shell command that restarts the gateway(s).
    pub restart_cmd: Option<String>,
    /// Server /metrics endpoints to scrape every second, and which series.
    pub metrics_urls: Vec<String>,
    pub metric_prefixes: Vec<String>,
}

impl LoadConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            scenario: Scenario::Group,
            clients: 20,
            group_size: 10,
            groups: 0,
            rate: 100.0,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            grace: Duration::from_secs(10),
            payload_bytes: 100,
            user_prefix: "lt".into(),
            login_concurrency: 2,
            encoding: Encoding::Proto,
            server_pids: Vec::new(),
            max_in_flight: 100_000,
            reactions_per_message: 0.0,
            thread_replies: 0.0,
            progress: false,
            connections: 100,
            connect_concurrency: 128,
            source_addrs: 1,
            messages: 10_000,
            list_conversations: 5_000,
            restart_cmd: None,
            metrics_urls: Vec::new(),
            metric_prefixes: Vec::new(),
        }
    }
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn histogram() -> Histogram<u64> {
    // 1 us .. 5 min, 3 significant digits.
    Histogram::new_with_bounds(1, 300_000_000, 3).expect("valid bounds")
}

/// Payload: "lt|<message id>|<intended unix us>|" then padding.
fn payload(id: u64, intended_us: u64, size: usize) -> String {
    let mut s = format!("lt|{id}|{intended_us}|");
    while s.len() < size {
        s.push('x');
    }
    s
}

fn parse(text: &str) -> Option<(u64, u64)> {
    let mut it = text.strip_prefix("lt|")?.split('|');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

struct Shared {
    ledger: Ledger,
    ack: Mutex<Histogram<u64>>,
    delivery: Mutex<Histogram<u64>>,
    /// Messages with an id at or above this are measured.
    measure_from: AtomicU64,
    send_errors: AtomicU64,
    reactions_sent: AtomicU64,
    reactions_refused: AtomicU64,
    thread_replies: AtomicU64,
    in_flight: AtomicU64,
    /// Delivery latency per second of the run (for the chart).
    per_second: Mutex<Vec<Histogram<u64>>>,
    /// Every event any client received (to see when setup traffic is over).
    events_seen: AtomicU64,
    /// When the send loop started.
    t0: std::sync::OnceLock<Instant>,
}

/// Waits until the clients have caught up with the setup (each new
/// conversation is announced to its members, whose SDKs pull its first
/// page): no event for `quiet`, bounded by `max`.
async fn settle(shared: &Shared, quiet: Duration, max: Duration) {
    let deadline = Instant::now() + max;
    let mut last = shared.events_seen.load(Ordering::Relaxed);
    let mut since = Instant::now();
    while Instant::now() < deadline && since.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = shared.events_seen.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

/// Runs one load test and returns its report.
pub async fn run(cfg: LoadConfig) -> anyhow::Result<Report> {
    anyhow::ensure!(!cfg.urls.is_empty(), "no gateway URL");
    if cfg.scenario == Scenario::Idle {
        return run_idle(&cfg).await;
    }
    if cfg.scenario == Scenario::Reconnect {
        let cmd = cfg
            .restart_cmd
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the reconnect scenario needs --restart-cmd"))?;
        let restart = async move {
            let status = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .status()
                .await?;
            anyhow::ensure!(status.success(), "restart command failed: {status}");
            Ok(())
        };
        return reconnect_report(&cfg, restart).await;
    }
    if cfg.scenario == Scenario::Conversations {
        let c = crate::conversation_list::run(
            &cfg.urls,
            &cfg.user_prefix,
            cfg.list_conversations,
            cfg.encoding,
        )
        .await?;
        let mut r = empty_report("conversations");
        r.conversation_list = Some(c);
        return Ok(r);
    }
    if cfg.scenario == Scenario::History {
        let h =
            crate::history::run(&cfg.urls, &cfg.user_prefix, cfg.messages, cfg.encoding).await?;
        let mut r = empty_report("history");
        r.measured_secs = h.seconds;
        r.history = Some(h);
        return Ok(r);
    }
    let group = match cfg.scenario {
        Scenario::Dm => 2,
        _ => cfg.group_size.max(2),
    };
    anyhow::ensure!(cfg.clients >= group, "need at least {group} clients");
    let overlapping = cfg.scenario == Scenario::Group && cfg.groups > 0;
    let users = if overlapping {
        cfg.clients
    } else {
        cfg.clients - cfg.clients % group
    };
    let mut people = clients(
        &cfg.urls,
        &cfg.user_prefix,
        users,
        cfg.login_concurrency,
        cfg.encoding,
    )
    .await?;
    let membership: Vec<Vec<u32>> = if overlapping {
        crate::membership::groups(users, group, cfg.groups)
    } else {
        // Disjoint: consecutive runs of `group` users.
        (0..users / group)
            .map(|c| (c * group..(c + 1) * group).map(|u| u as u32).collect())
            .collect()
    };
    let convs = create_conversations(&people, &membership, cfg.scenario).await?;
    let members: Vec<u32> = vec![group as u32; convs.len()];
    let conv_index: std::collections::HashMap<String, u32> = convs
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i as u32))
        .collect();
    let conv_index = Arc::new(conv_index);

    let shared = Arc::new(Shared {
        ledger: Ledger::default(),
        ack: Mutex::new(histogram()),
        delivery: Mutex::new(histogram()),
        measure_from: AtomicU64::new(u64::MAX),
        send_errors: AtomicU64::new(0),
        reactions_sent: AtomicU64::new(0),
        reactions_refused: AtomicU64::new(0),
        thread_replies: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        per_second: Mutex::new(Vec::new()),
        events_seen: AtomicU64::new(0),
        t0: std::sync::OnceLock::new(),
    });
    // Receivers: every client checks and times what it gets.
    let mut receivers = Vec::new();
    for (r, p) in people.iter_mut().enumerate() {
        let mut rx = p.events.take().expect("events");
        let shared = shared.clone();
        let conv_index = conv_index.clone();
        receivers.push(tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                shared.events_seen.fetch_add(1, Ordering::Relaxed);
                let ClientEvent::Event(ev) = e else { continue };
                let Some(pb::event::Body::Message(m)) = &ev.body else {
                    continue;
                };
                let Some((id, intended)) = parse(&m.text) else {
                    continue;
                };
                let Some(&conv) = conv_index.get(&ev.conversation_id) else {
                    continue;
                };
                shared.ledger.delivered(r as u32, conv, id, ev.seq);
                if id >= shared.measure_from.load(Ordering::Relaxed) {
                    let us = unix_us().saturating_sub(intended).max(1);
                    let _ = shared.delivery.lock().record(us);
                    let t0 = *shared.t0.get().expect("set before the first send");
                    let second = t0.elapsed().as_secs() as usize;
                    let mut per_second = shared.per_second.lock();
                    while per_second.len() <= second {
                        per_second.push(histogram());
                    }
                    let _ = per_second[second].record(us);
                }
            }
        }));
    }

    settle(&shared, Duration::from_secs(2), Duration::from_secs(180)).await;
    let start = Instant::now();
    let start_unix_ms = unix_us() / 1000;
    let _ = shared.t0.set(start);
    let (stop_seconds, seconds) = crate::seconds::spawn(
        start,
        crate::seconds::Watch {
            server_pids: cfg.server_pids.clone(),
            metrics_urls: cfg.metrics_urls.clone(),
            metric_prefixes: cfg.metric_prefixes.clone(),
        },
    );

    // Open loop: message i is due at start + i / rate, whatever happened to
    // the ones before it.
    let sampler = Arc::new(Mutex::new(Sampler::new(&cfg.server_pids)));
    let interval = Duration::from_secs_f64(1.0 / cfg.rate.max(0.001));
    let measure_at = start + cfg.warmup;
    let end = measure_at + cfg.duration;
    let mut measured_start = None;
    let mut last_progress = Instant::now();
    let mut i: u64 = 0;
    // Newest acknowledged message of each conversation (reaction targets).
    let newest: Arc<Vec<AtomicU64>> =
        Arc::new((0..convs.len()).map(|_| AtomicU64::new(0)).collect());
    let mut reaction_credit = 0.0;
    // The first acknowledged message of each conversation: the root of its
    // thread (0 until there is one).
    let roots: Arc<Vec<AtomicU64>> =
        Arc::new((0..convs.len()).map(|_| AtomicU64::new(0)).collect());
    let mut thread_credit = 0.0;
    loop {
        let due = start + interval.mul_f64(i as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        if due >= measure_at && measured_start.is_none() {
            measured_start = Some(Instant::now());
            shared
                .measure_from
                .store(shared.ledger.len() as u64, Ordering::Relaxed);
        }
        // Every conversation in turn, each time from its next member.
        let conv = (i as usize % convs.len()) as u32;
        let sender = membership[conv as usize][(i as usize / convs.len()) % group] as usize;
        let (id, msg) = shared.ledger.add(conv);
        // The intended time, in wall-clock terms, for delivery latency.
        let intended_us = unix_us().saturating_sub(due.elapsed().as_micros() as u64);
        if shared.in_flight.load(Ordering::Relaxed) >= cfg.max_in_flight as u64 {
            shared.send_errors.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.in_flight.fetch_add(1, Ordering::Relaxed);
            let client = people[sender].client.clone();
            let conv_id = convs[conv as usize].clone();
            let text = payload(id, intended_us, cfg.payload_bytes);
            let shared = shared.clone();
            let newest = newest.clone();
            thread_credit += cfg.thread_replies;
            let root = if thread_credit >= 1.0 {
                thread_credit -= 1.0;
                roots[conv as usize].load(Ordering::Relaxed)
            } else {
                0
            };
            if root != 0 {
                shared.thread_replies.fetch_add(1, Ordering::Relaxed);
            }
            let roots = roots.clone();
            tokio::spawn(async move {
                let message = parley_sdk::pb::MessageBody {
                    text,
                    thread_root_seq: root,
                    ..Default::default()
                };
                match client.send_message(&conv_id, message).await {
                    Ok(ack) => {
                        msg.seq.store(ack.seq, Ordering::Relaxed);
                        if root == 0 {
                            newest[conv as usize].fetch_max(ack.seq, Ordering::Relaxed);
                            let _ = roots[conv as usize].compare_exchange(
                                0,
                                ack.seq,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                        }
                        if id >= shared.measure_from.load(Ordering::Relaxed) {
                            let _ = shared
                                .ack
                                .lock()
                                .record((due.elapsed().as_micros() as u64).max(1));
                        }
                    }
                    Err(_) => {
                        shared.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
        reaction_credit += cfg.reactions_per_message;
        while reaction_credit >= 1.0 {
            reaction_credit -= 1.0;
            let target = newest[conv as usize].load(Ordering::Relaxed);
            if target == 0 {
                continue;
            }
            // One of several emoji, so that a sender reacting twice to the
            // same newest message rarely repeats itself (a repeat is
            // refused as already there, and counted).
            let emoji = REACTION_EMOJI[(i as usize / convs.len()) % REACTION_EMOJI.len()];
            let client = people[sender].client.clone();
            let conv_id = convs[conv as usize].clone();
            let shared = shared.clone();
            shared.reactions_sent.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                if client.react(&conv_id, target, emoji, false).await.is_err() {
                    shared.reactions_refused.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        i += 1;
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            sampler.lock().sample();
            if cfg.progress {
                eprintln!(
                    "t={:>5.1}s sent={} in-flight={} delivered={} errors={} ack p99={:.2}ms",
                    start.elapsed().as_secs_f64(),
                    i,
                    shared.in_flight.load(Ordering::Relaxed),
                    shared.ledger.deliveries.load(Ordering::Relaxed),
                    shared.send_errors.load(Ordering::Relaxed),
                    shared.ack.lock().value_at_quantile(0.99) as f64 / 1000.0,
                );
            }
        }
    }
    let measured_secs = measured_start
        .map_or(0.0, |s| s.elapsed().as_secs_f64())
        .max(0.001);
    let _ = stop_seconds.send(());
    let seconds = seconds.await.unwrap_or_default();
    let warmup_secs = cfg.warmup.as_secs();
    let busy: Vec<f64> = seconds
        .iter()
        .filter(|s| s.second >= warmup_secs)
        .map(|s| s.machine_busy_percent)
        .collect();
    let machine_busy_percent = busy.iter().sum::<f64>() / busy.len().max(1) as f64;

    // Let sends finish and deliveries arrive (bounded by the grace period).
    let grace_end = Instant::now() + cfg.grace;
    loop {
        let t = shared.ledger.totals(&members);
        let (expected, got) = (t.expected, t.delivered);
        let done = shared.in_flight.load(Ordering::Relaxed) == 0 && got >= expected;
        if done || Instant::now() >= grace_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let servers = Arc::try_unwrap(sampler)
        .map(|m| m.into_inner().finish())
        .unwrap_or_default();
    for p in &people {
        p.client.close();
    }
    for r in receivers {
        r.abort();
    }
    let totals = shared.ledger.totals(&members);
    let (acked, expected, got, lost) =
        (totals.acked, totals.expected, totals.delivered, totals.lost);
    let measured = shared.ledger.len() as u64
        - shared
            .measure_from
            .load(Ordering::Relaxed)
            .min(shared.ledger.len() as u64);
    let ack_latency = Latency::from_us(&shared.ack.lock());
    let delivery_latency = Latency::from_us(&shared.delivery.lock());
    Ok(Report {
        scenario: format!("{:?}", cfg.scenario).to_lowercase(),
        clients: people.len(),
        conversations: convs.len(),
        fanout: group,
        target_rate: cfg.rate,
        measured_secs,
        publishes: shared.ledger.len() as u64,
        acked,
        send_errors: shared.send_errors.load(Ordering::Relaxed),
        reactions_sent: shared.reactions_sent.load(Ordering::Relaxed),
        reactions_refused: shared.reactions_refused.load(Ordering::Relaxed),
        thread_replies: shared.thread_replies.load(Ordering::Relaxed),
        publishes_per_sec: measured as f64 / measured_secs,
        deliveries_expected: expected,
        deliveries: got,
        deliveries_per_sec: (measured * group as u64) as f64 / measured_secs,
        lost,
        duplicates: shared
            .ledger
            .duplicates
            .load(Ordering::Relaxed)
            .max(totals.extra),
        reordered: shared.ledger.reordered.load(Ordering::Relaxed),
        seq_mismatches: shared.ledger.mismatched.load(Ordering::Relaxed) + totals.ack_mismatches,
        ack_latency,
        delivery_latency,
        servers,
        connections: None,
        history: None,
        conversation_list: None,
        reconnect: None,
        timeline: shared
            .per_second
            .lock()
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(second, h)| TimelinePoint {
                second: second as u64,
                latency: Latency::from_us(h),
            })
            .collect(),
        timeline_start_unix_ms: start_unix_ms,
        seconds,
        machine_busy_percent,
    })
}

/// The emoji the load's reactions cycle through.
const REACTION_EMOJI: [&str; 8] = [
    "\u{1F44D}",
    "\u{2764}\u{FE0F}",
    "\u{1F602}",
    "\u{1F389}",
    "\u{1F62E}",
    "\u{1F622}",
    "\u{1F680}",
    "\u{1F440}",
];

/// Creates the conversations (many at a time); the first member creates each.
async fn create_conversations(
    people: &[crate::setup::Participant],
    membership: &[Vec<u32>],
    scenario: Scenario,
) -> anyhow::Result<Vec<String>> {
    use futures::StreamExt;
    let made = futures::stream::iter(membership.iter().enumerate().map(|(i, m)| {
        let creator = people[m[0] as usize].client.clone();
        let others: Vec<String> = m[1..]
            .iter()
            .map(|&u| people[u as usize].client.user_id())
            .collect();
        async move {
            let conv = match scenario {
                Scenario::Dm => creator.create_direct(&others[0]).await?,
                _ => creator.create_group("loadtest", &others).await?,
            };
            crate::setup::require_added(&conv)?;
            Ok::<_, anyhow::Error>((i, conv.id))
        }
    }))
    .buffer_unordered(64)
    .collect::<Vec<_>>()
    .await;
    let mut convs = vec![String::new(); membership.len()];
    for r in made {
        let (i, id) = r?;
        convs[i] = id;
    }
    Ok(convs)
}

/// The reconnect scenario with any restart (a command, or in tests a
/// function that restarts an in-process node).
pub async fn reconnect_report(
    cfg: &LoadConfig,
    restart: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Report> {
    let deadline = cfg.grace + cfg.duration;
    let r = crate::reconnect::run(
        &cfg.urls,
        &cfg.user_prefix,
        cfg.clients,
        cfg.login_concurrency,
        cfg.encoding,
        deadline,
        restart,
    )
    .await?;
    let mut report = empty_report("reconnect");
    report.clients = cfg.clients;
    report.measured_secs = r.seconds_to_all;
    report.reconnect = Some(r);
    Ok(report)
}

fn empty_report(scenario: &str) -> Report {
    Report {
        scenario: scenario.into(),
        clients: 0,
        conversations: 0,
        fanout: 0,
        target_rate: 0.0,
        measured_secs: 0.0,
        publishes: 0,
        acked: 0,
        send_errors: 0,
        reactions_sent: 0,
        reactions_refused: 0,
        thread_replies: 0,
        publishes_per_sec: 0.0,
        deliveries_expected: 0,
        deliveries: 0,
        deliveries_per_sec: 0.0,
        lost: 0,
        duplicates: 0,
        reordered: 0,
        seq_mismatches: 0,
        ack_latency: Latency::default(),
        delivery_latency: Latency::default(),
        servers: Vec::new(),
        connections: None,
        history: None,
        conversation_list: None,
        reconnect: None,
        timeline: Vec::new(),
        timeline_start_unix_ms: 0,
        seconds: Vec::new(),
        machine_busy_percent: 0.0,
    }
}

async fn run_idle(cfg: &LoadConfig) -> anyhow::Result<Report> {
    let users = clients(
        &cfg.urls,
        &cfg.user_prefix,
        cfg.clients.max(1),
        cfg.login_concurrency,
        cfg.encoding,
    )
    .await?;
    let tokens: Vec<String> = users
        .iter()
        .map(|p| p.client.tokens().access_token)
        .collect();
    for p in &users {
        p.client.close();
    }
    let gateways = cfg
        .urls
        .iter()
        .map(|u| {
            let hostport = u.trim_start_matches("http://").trim_end_matches('/');
            std::net::ToSocketAddrs::to_socket_addrs(hostport)?
                .next()
                .ok_or_else(|| anyhow::anyhow!("cannot resolve {u}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = crate::idle::IdlePlan {
        gateways,
        tokens,
        connections: cfg.connections,
        concurrency: cfg.connect_concurrency,
        source_addrs: cfg.source_addrs,
        hold: cfg.duration,
        server_pids: cfg.server_pids.clone(),
    };
    let started = Instant::now();
    let c = crate::idle::run(plan).await?;
    let mut r = empty_report("idle");
    r.clients = users.len();
    r.measured_secs = started.elapsed().as_secs_f64();
    r.connections = Some(c);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let p = payload(42, 1_700_000_000_000_000, 100);
        assert_eq!(p.len(), 100);
        assert_eq!(parse(&p), Some((42, 1_700_000_000_000_000)));
        assert_eq!(parse("hello"), None);
    }
}
