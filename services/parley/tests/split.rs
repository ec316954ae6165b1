//! Split mode: every service in its own process, sharing a real
//! nats-server and redis-server, with pieces killed while messages flow.
//! Each test prints what it measured (sent, acked, delivered, lost,
//! duplicates, time to converge).

mod common;

use common::{Events, client_on};
use parley::cluster::{Cluster, ClusterOptions};
use parley_sdk::{Client, ClientEvent, pb};
use parley_testkit::{NatsServer, RedisServer};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

struct Split {
    cluster: Cluster,
    nats: NatsServer,
    redis: RedisServer,
    _dir: tempfile::TempDir,
}

async fn split(gateways: usize, fanouts: usize, storages: usize) -> Split {
    split_with(gateways, fanouts, storages, "never").await
}

async fn split_with(gateways: usize, fanouts: usize, storages: usize, invitations: &str) -> Split {
    let nats = NatsServer::start();
    let redis = RedisServer::start();
    let mut dir = tempfile::tempdir().unwrap();
    if std::env::var_os("SPLIT_TEST_KEEP_LOGS").is_some() {
        dir.disable_cleanup(true);
        eprintln!("cluster logs in {}", dir.path().display());
    }
    let env = [
        ("PARLEY_LOG", "info"),
        ("PARLEY_PRESENCE__TTL_SECS", "3"),
        ("PARLEY_CLUSTER__STORED_ACK_WAIT_SECS", "2"),
        ("PARLEY_AUTH__HASH_CONCURRENCY", "2"),
        ("PARLEY_GATEWAY__DRAIN_TIMEOUT_SECS", "5"),
        ("PARLEY_GATEWAY__INVITATIONS", invitations),
        ("PARLEY_GATEWAY__REGISTRATIONS_PER_HOUR_PER_ADDRESS", "0"),
    ];
    let opts = ClusterOptions {
        exe: env!("CARGO_BIN_EXE_parley").into(),
        dir: dir.path().to_path_buf(),
        nats_url: nats.url(),
        redis_url: redis.url(),
        gateways,
        fanouts,
        storages,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let cluster = Cluster::start(opts).await.expect("cluster starts");
    Split {
        cluster,
        nats,
        redis,
        _dir: dir,
    }
}

/// The gateway URLs starting from the `first`th.
fn urls_from(s: &Split, first: usize) -> Vec<String> {
    let mut u = s.cluster.gateway_urls();
    u.rotate_left(first);
    u
}

/// Collects `conv`'s events until seqs 1..=head were all seen; counts
/// anything seen twice. Returns (events by seq, duplicates).
async fn converge(
    events: &mut Events,
    conv: &str,
    head: u64,
    deadline: Duration,
) -> (BTreeMap<u64, pb::Event>, usize) {
    let until = tokio::time::Instant::now() + deadline;
    let mut got = BTreeMap::new();
    let mut dups = 0;
    let mut last = 0;
    while (got.len() as u64) < head {
        let e = match tokio::time::timeout_at(until, events.0.recv()).await {
            Ok(Some(e)) => e,
            _ => {
                let missing: Vec<u64> = (1..=head).filter(|s| !got.contains_key(s)).collect();
                panic!(
                    "not converged: have {} of {head} events of {conv}; missing {missing:?}",
                    got.len()
                )
            }
        };
        if let ClientEvent::Event(ev) = e {
            if ev.conversation_id != conv {
                continue;
            }
            assert!(
                ev.seq > last || got.contains_key(&ev.seq),
                "out of order: {} after {last}",
                ev.seq
            );
            last = last.max(ev.seq);
            if got.insert(ev.seq, ev).is_some() {
                dups += 1;
            }
        }
    }
    (got, dups)
}

/// Waits until `c` has delivered `conv` up to `seq` (without consuming its events).
async fn wait_delivered(c: &Client, conv: &str, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.delivered(conv) < seq {
        assert!(Instant::now() < deadline, "{conv} never reached seq {seq}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn send_many(c: Client, conv: String, n: usize, tag: &'static str) -> Vec<u64> {
    let mut acked = Vec::new();
    for i in 0..n {
        acked.push(c.send_text(&conv, &format!("{tag}-{i}")).await.unwrap().seq);
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_different_gateways_get_every_message_once_in_order() {
    let s = split(2, 2, 2).await;
    let (alice, mut alice_ev) = client_on(&urls_from(&s, 0), "alice").await;
    let (bob, mut bob_ev) = client_on(&urls_from(&s, 1), "bob").await;
    let (carol, mut carol_ev) = client_on(&urls_from(&s, 0), "carol").await;
    let group = alice
        .create_group("across", &[bob.user_id(), carol.user_id()])
        .await
        .unwrap();
    let started = Instant::now();
    let a = tokio::spawn(send_many(alice.clone(), group.id.clone(), 20, "a"));
    let b = tokio::spawn(send_many(bob.clone(), group.id.clone(), 20, "b"));
    let mut acked: HashSet<u64> = a.await.unwrap().into_iter().collect();
    acked.extend(b.await.unwrap());
    assert_eq!(acked, (2..=41).collect());
    for (name, ev) in [
        ("alice", &mut alice_ev),
        ("bob", &mut bob_ev),
        ("carol", &mut carol_ev),
    ] {
        let (got, dups) = converge(ev, &group.id, 41, Duration::from_secs(30)).await;
        assert_eq!(dups, 0);
        assert_eq!(
            got.keys().copied().collect::<Vec<_>>(),
            (1..=41).collect::<Vec<_>>()
        );
        println!(
            "{name}: sent 40, acked 40, delivered {}, lost 0, duplicates {dups}, converged in {:?}",
            got.len() - 1,
            started.elapsed()
        );
    }
    drop(carol);
    // Every service exports Prometheus metrics.
    let mut fanout_deliveries = false;
    for m in s.cluster.members() {
        let url = match m.admin {
            Some(a) => format!("http://{a}/metrics"),
            None => format!("http://{}/metrics", m.addr),
        };
        let resp = reqwest::get(&url)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert_eq!(resp.status(), 200, "{}", m.name);
        let body = resp.text().await.unwrap();
        let expected = match m.subcommand {
            "gateway" => Some("parley_gateway_sends_total"),
            "fanout" => {
                fanout_deliveries |= body.contains("parley_fanout_deliveries_total");
                None
            }
            // Every storage instance answered sync calls; auth and presence were called.
            _ => Some("parley_grpc_server_seconds"),
        };
        if let Some(expected) = expected {
            assert!(body.contains(expected), "{} lacks {expected}", m.name);
        }
    }
    assert!(fanout_deliveries, "a fanout worker counted its deliveries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_gateway_loses_no_acknowledged_message() {
    let mut s = split(2, 1, 1).await;
    let (alice, mut alice_ev) = client_on(&urls_from(&s, 0), "alice").await;
    let (bob, mut bob_ev) = client_on(&urls_from(&s, 1), "bob").await;
    let group = alice
        .create_group("survivors", &[bob.user_id()])
        .await
        .unwrap();
    let a = tokio::spawn(send_many(alice.clone(), group.id.clone(), 60, "a"));
    let b = tokio::spawn(send_many(bob.clone(), group.id.clone(), 60, "b"));
    // Let traffic flow, then kill alice's gateway without warning.
    wait_delivered(&alice, &group.id, 15).await;
    s.cluster.kill("gateway-0");
    let killed = Instant::now();
    let mut acked: Vec<u64> = a.await.unwrap();
    acked.extend(b.await.unwrap());
    let unique: HashSet<u64> = acked.iter().copied().collect();
    assert_eq!(
        unique.len(),
        120,
        "every send was acked exactly once (retries kept their client_msg_id)"
    );
    let head = *unique.iter().max().unwrap();
    assert_eq!(head, 121, "dense seqs: no retry took a second seq");
    for (name, ev) in [("alice", &mut alice_ev), ("bob", &mut bob_ev)] {
        let (got, dups) = converge(ev, &group.id, head, Duration::from_secs(40)).await;
        let lost = unique.iter().filter(|s| !got.contains_key(s)).count();
        assert_eq!((lost, dups), (0, 0));
        println!(
            "{name}: sent 120, acked 120, delivered {}, lost {lost}, duplicates {dups}, converged {:?} after the kill",
            got.len() - 1,
            killed.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_are_acked_through_a_nats_outage_and_everyone_converges() {
    let mut s = split(2, 1, 1).await;
    let (alice, mut alice_ev) = client_on(&urls_from(&s, 0), "alice").await;
    let (bob, mut bob_ev) = client_on(&urls_from(&s, 1), "bob").await;
    let group = alice
        .create_group("outage", &[bob.user_id()])
        .await
        .unwrap();
    for i in 0..5 {
        alice
            .send_text(&group.id, &format!("before {i}"))
            .await
            .unwrap();
    }
    s.nats.kill();
    let down = Instant::now();
    // Messages keep flowing for three seconds of outage (paced, bounded).
    let mut acked = Vec::new();
    while down.elapsed() < Duration::from_secs(3) && acked.len() < 200 {
        let n = acked.len();
        acked.push(
            bob.send_text(&group.id, &format!("during {n}"))
                .await
                .expect("acked while NATS is down")
                .seq,
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let during = acked.len();
    let outage = down.elapsed();
    s.nats.restart();
    let up = Instant::now();
    // Traffic after the outage reveals any gap to clients that missed pushes.
    acked.push(alice.send_text(&group.id, "after").await.unwrap().seq);
    let head = *acked.iter().max().unwrap();
    assert_eq!(
        head as usize,
        1 + 5 + during + 1,
        "dense seqs, every send acked once"
    );
    for (name, ev) in [("alice", &mut alice_ev), ("bob", &mut bob_ev)] {
        let (got, dups) = converge(ev, &group.id, head, Duration::from_secs(40)).await;
        assert_eq!(dups, 0);
        println!(
            "{name}: {during} sends acked during a {outage:?} NATS outage; delivered {} of {head}, lost 0, duplicates 0, converged {:?} after NATS returned",
            got.len(),
            up.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_recovers_presence_and_never_reuses_a_seq() {
    let mut s = split(1, 1, 1).await;
    let urls = urls_from(&s, 0);
    let (alice, _a) = client_on(&urls, "alice").await;
    let (bob, _b) = client_on(&urls, "bob").await;
    let group = alice
        .create_group("presence", &[bob.user_id()])
        .await
        .unwrap();
    let before = alice.send_text(&group.id, "before").await.unwrap().seq;
    assert!(alice.query_presence(&[bob.user_id()]).await.unwrap()[0].online);
    s.redis.restart();
    let restarted = Instant::now();
    // Empty Redis: bob looks offline until his gateway's next heartbeat (1 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let online = alice
            .query_presence(&[bob.user_id()])
            .await
            .map(|p| p.first().is_some_and(|p| p.online))
            .unwrap_or(false);
        if online {
            break;
        }
        assert!(Instant::now() < deadline, "presence did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = restarted.elapsed();
    let after = alice.send_text(&group.id, "after").await.unwrap().seq;
    assert_eq!(
        after,
        before + 1,
        "seqs do not come from Redis: no reuse, no gap"
    );
    println!(
        "presence recovered {recovered:?} after Redis restarted empty; sends continued at seq {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_fanout_worker_leaves_no_stored_event_undelivered() {
    let mut s = split(1, 2, 1).await;
    let urls = urls_from(&s, 0);
    let (alice, _a) = client_on(&urls, "alice").await;
    let (bob, mut bob_ev) = client_on(&urls, "bob").await;
    let group = alice
        .create_group("workers", &[bob.user_id()])
        .await
        .unwrap();
    let sender = tokio::spawn(send_many(alice.clone(), group.id.clone(), 80, "a"));
    wait_delivered(&bob, &group.id, 10).await;
    s.cluster.kill("fanout-0");
    let killed = Instant::now();
    let acked = sender.await.unwrap();
    let head = *acked.iter().max().unwrap();
    // bob stays connected: gaps in the middle are filled by his gap pulls;
    // a tail that only the dead worker held comes back only through
    // JetStream redelivery to the surviving worker (ack wait: 2 s).
    let (got, dups) = converge(&mut bob_ev, &group.id, head, Duration::from_secs(40)).await;
    assert_eq!(dups, 0);
    assert!(bob.is_connected());
    println!(
        "sent 80, acked 80, delivered {} of {head}, lost 0, duplicates 0, converged {:?} after the kill",
        got.len(),
        killed.elapsed()
    );

    // A member killed from outside is reported (and reaped) by the launcher.
    let pid = s.cluster.members()[s.cluster.members().len() - 1]
        .pid()
        .expect("running");
    let name = s.cluster.members()[s.cluster.members().len() - 1]
        .name
        .clone();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let exited = s.cluster.reap_exited();
        if !exited.is_empty() {
            assert_eq!(exited.len(), 1);
            assert_eq!(exited[0].0, name);
            break;
        }
        assert!(Instant::now() < deadline, "{name} was not reported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        s.cluster
            .members()
            .iter()
            .all(|m| m.name != name || m.pid().is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_gateway_sends_its_clients_elsewhere() {
    let mut s = split(2, 1, 1).await;
    let (alice, mut alice_ev) = client_on(&urls_from(&s, 0), "alice").await;
    let (bob, _b) = client_on(&urls_from(&s, 1), "bob").await;
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let started = Instant::now();
    assert!(
        s.cluster
            .terminate("gateway-0", Duration::from_secs(10))
            .await,
        "exits by itself after draining"
    );
    let drained = started.elapsed();
    alice_ev
        .wait(|e| {
            matches!(
                e,
                ClientEvent::Disconnected {
                    close_code: Some(1012)
                }
            )
            .then_some(())
        })
        .await;
    alice_ev
        .wait(|e| matches!(e, ClientEvent::Connected).then_some(()))
        .await;
    let ack = alice
        .send_text(&dm.id, "from the other gateway")
        .await
        .unwrap();
    assert_eq!(ack.seq, 2);
    println!(
        "gateway drained and exited in {drained:?}; its client reconnected to the other gateway"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_sharded_over_storage_instances_that_keep_their_data() {
    use parley::__private_owner_of as owner_of;
    let mut s = split(1, 1, 2).await;
    let urls = urls_from(&s, 0);
    let (alice, _a) = client_on(&urls, "alice").await;
    let (bob, _b) = client_on(&urls, "bob").await;
    let mut groups = Vec::new();
    for i in 0..16 {
        let g = alice
            .create_group(&format!("g{i}"), &[bob.user_id()])
            .await
            .unwrap();
        alice.send_text(&g.id, "hello").await.unwrap();
        groups.push(g.id);
    }
    let owners: HashSet<usize> = groups.iter().map(|g| owner_of(g, 2)).collect();
    assert_eq!(owners.len(), 2, "both instances own conversations");
    // Sync merges what every instance knows about bob.
    assert_eq!(bob.sync().await.unwrap().conversations.len(), 16);
    // So does the list in activity order, page by page: each once, newest
    // first across both instances.
    let (mut listed, mut after) = (Vec::new(), String::new());
    loop {
        let page = bob
            .list_page(pb::SyncRequest {
                after,
                limit: 3,
                order: pb::SyncOrder::Activity as i32,
                ..Default::default()
            })
            .await
            .unwrap();
        listed.extend(page.conversations);
        if !page.has_more {
            break;
        }
        after = page.next_after;
    }
    let ids: HashSet<&str> = listed
        .iter()
        .map(|s| s.conversation.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!((listed.len(), ids.len()), (16, 16));
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].last_activity_ms >= w[1].last_activity_ms)
    );

    // One instance down: its conversations are unavailable (no other
    // instance has their data); the others keep working.
    s.cluster.kill("storage-1");
    let on0 = groups.iter().find(|g| owner_of(g, 2) == 0).unwrap().clone();
    let on1 = groups.iter().find(|g| owner_of(g, 2) == 1).unwrap().clone();
    assert_eq!(alice.send_text(&on0, "still here").await.unwrap().seq, 3);
    let err = alice.request(parley_sdk::pb::client_frame::Request::Send(
        parley_sdk::pb::Send {
            conversation_id: on1.clone(),
            client_msg_id: "while-down".into(),
            body: Some(parley_sdk::pb::send::Body::Message(
                parley_sdk::pb::MessageBody {
                    text: "x".into(),
                    reply_to_seq: 0,
                    ..Default::default()
                },
            )),
        },
    ));
    assert_eq!(err.await.unwrap_err().code(), Some("unavailable"));
    // Back with its data: seqs continue past the abandoned lease, never reused.
    s.cluster.restart("storage-1").await.unwrap();
    let ack = alice.send_text(&on1, "after restart").await.unwrap();
    assert!(ack.seq > 2);
    let h = bob
        .history(pb::HistoryRequest {
            conversation_id: on1.clone(),
            from_seq: 1,
            to_seq: 0,
            limit: 0,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(h.events.len(), 3);
    assert_eq!(h.skipped, (3..ack.seq).collect::<Vec<_>>());
    println!(
        "16 conversations over 2 storage instances; one instance down refused only its own; after restart seqs continued at {}",
        ack.seq
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_scenarios_hold_across_processes() {
    let s = split(2, 1, 2).await;
    let (alice, _a) = client_on(&urls_from(&s, 0), "alice").await;
    let (bob, mut bob_ev) = client_on(&urls_from(&s, 1), "bob").await;

    // A DM across gateways, and a retried send that keeps its seq.
    let dm = alice.create_direct(&bob.user_id()).await.unwrap();
    let send = pb::Send {
        conversation_id: dm.id.clone(),
        client_msg_id: "once".into(),
        body: Some(pb::send::Body::Message(pb::MessageBody {
            text: "hi bob".into(),
            reply_to_seq: 0,
            ..Default::default()
        })),
    };
    let first = alice.send(send.clone()).await.unwrap();
    let again = alice.send(send).await.unwrap();
    assert_eq!((first.seq, again.seq, again.duplicate), (2, 2, true));
    let (got, dups) = converge(&mut bob_ev, &dm.id, 2, Duration::from_secs(20)).await;
    assert_eq!((got.len(), dups), (2, 0));

    // A non-member is refused, whichever gateway and storage instance.
    let (mallory, _m) = client_on(&urls_from(&s, 1), "mallory").await;
    assert_eq!(
        mallory
            .send_text(&dm.id, "let me in")
            .await
            .unwrap_err()
            .code(),
        Some("not_found")
    );
    let h = pb::HistoryRequest {
        conversation_id: dm.id.clone(),
        from_seq: 1,
        to_seq: 0,
        limit: 0,
        ..Default::default()
    };
    assert_eq!(
        mallory.history(h).await.unwrap_err().code(),
        Some("not_found")
    );

    // An offline device catches up by sync when it logs in again.
    bob.close();
    for i in 0..5 {
        alice
            .send_text(&dm.id, &format!("while away {i}"))
            .await
            .unwrap();
    }
    let (bob2, mut bob2_ev) = client_on(&urls_from(&s, 0), "bob").await;
    let (got, dups) = converge(&mut bob2_ev, &dm.id, 7, Duration::from_secs(20)).await;
    assert_eq!((got.len(), dups), (7, 0));

    // Refresh-token reuse, detected by auth, closes the session's socket on
    // whichever gateway holds it (through NATS).
    let stale = bob2.tokens().refresh_token;
    let http = reqwest::Client::new();
    let refresh = |url: String, token: String| {
        let http = http.clone();
        async move {
            http.post(format!("{url}/v1/auth/refresh"))
                .header("content-type", "application/json")
                .body(serde_json::json!({ "refreshToken": token }).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let gateways = s.cluster.gateway_urls();
    assert_eq!(refresh(gateways[1].clone(), stale.clone()).await, 200);
    assert_eq!(refresh(gateways[1].clone(), stale).await, 401);
    bob2_ev
        .wait(|e| matches!(e, ClientEvent::Revoked).then_some(()))
        .await;
    assert!(!bob2.is_connected());
    println!(
        "DM, retry, non-member refusal, offline catch-up and refresh-token reuse hold across processes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_blocks_hold_across_storage_instances() {
    // Groups, invitations and pairs are spread over two storage instances:
    // listings gather them all, and a block kept on one instance outweighs
    // groups shared on the other.
    let s = split_with(1, 1, 2, "strangers").await;
    let urls = urls_from(&s, 0);
    let (alice, _a) = client_on(&urls, "alice").await;
    let (bob, _b) = client_on(&urls, "bob").await;
    let mut groups = Vec::new();
    for i in 0..6 {
        let g = alice
            .create_group(&format!("g{i}"), &[bob.user_id()])
            .await
            .unwrap();
        assert_eq!(g.invited_ids, [bob.user_id()], "strangers are invited");
        groups.push(g.id);
    }
    let listed = bob.invitations().await.unwrap();
    assert_eq!(listed.len(), 6, "invitations from every instance");
    for g in &groups {
        bob.respond(g, true, false).await.unwrap().unwrap();
    }
    assert_eq!(bob.sync().await.unwrap().conversations.len(), 6);
    assert!(alice.query_presence(&[bob.user_id()]).await.unwrap()[0].online);
    alice.block(&bob.user_id()).await.unwrap();
    assert_eq!(alice.blocked().await.unwrap(), [bob.user_id()]);
    assert!(
        bob.query_presence(&[alice.user_id()])
            .await
            .unwrap()
            .is_empty(),
        "the block outweighs the groups on the other instance"
    );
    let refused = bob.create_group("x", &[alice.user_id()]).await;
    assert_eq!(
        refused
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("forbidden")
    );
    // A group message still reaches her.
    bob.send_text(&groups[0], "still in the group")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_gathers_hits_from_every_storage_instance() {
    let s = split(1, 1, 2).await;
    let urls = urls_from(&s, 0);
    let (alice, _a) = client_on(&urls, "alice").await;
    let (bob, _b) = client_on(&urls, "bob").await;
    let mut sent = Vec::new();
    for i in 0..6 {
        let g = alice
            .create_group(&format!("g{i}"), &[bob.user_id()])
            .await
            .unwrap();
        let ack = alice
            .send_text(&g.id, &format!("quarterly numbers {i}"))
            .await
            .unwrap();
        sent.push((g.id, ack.seq));
    }
    sent.sort();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut got: Vec<(String, u64)> = bob
            .search(pb::SearchRequest {
                query: "quarterly".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.conversation_id, h.seq))
            .collect();
        got.sort();
        if got == sent {
            break;
        }
        assert!(Instant::now() < deadline, "search gave {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_refused_by_every_gateway_at_once() {
    let s = split(2, 1, 1).await;
    let urls = s.cluster.gateway_urls();
    let ws: Vec<String> = urls
        .iter()
        .map(|u| format!("{}/v1/ws", u.replacen("http", "ws", 1)))
        .collect();
    parley_sdk::register(&urls[0], "alice", common::PASSWORD)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let post = |url: String, body: serde_json::Value| {
        let http = http.clone();
        async move {
            let r = http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let mut reach = Vec::new();
    for round in 0..10 {
        // Signed in on one gateway, signed out through the other.
        let (status, body) = post(
            format!("{}/v1/auth/login", urls[round % 2]),
            serde_json::json!({"username": "alice", "password": common::PASSWORD}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let tokens: pb::TokenPair = serde_json::from_str(&body).unwrap();
        assert!(!common::token_refused(&ws[round % 2], &tokens.access_token).await);
        let (status, _) = post(
            format!("{}/v1/auth/logout", urls[(round + 1) % 2]),
            serde_json::json!({"refreshToken": tokens.refresh_token}),
        )
        .await;
        assert_eq!(status, 204);
        let ended = Instant::now();
        let mut slowest = Duration::ZERO;
        for url in &ws {
            loop {
                if common::token_refused(url, &tokens.access_token).await {
                    break;
                }
                assert!(
                    ended.elapsed() < Duration::from_secs(10),
                    "a gateway still accepts the ended session's token"
                );
            }
            slowest = slowest.max(ended.elapsed());
        }
        reach.push(slowest);
    }
    reach.sort();
    println!(
        "an ended session's token was refused by both gateways within: median {:?}, max {:?} (10 rounds, each check a new socket)",
        reach[reach.len() / 2],
        reach[reach.len() - 1]
    );
}
