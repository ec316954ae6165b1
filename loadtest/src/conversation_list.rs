//! The conversation list of a user in many conversations: one user is put
//! in `conversations` groups, each with one unread message, then a fresh
//! sign-in lists them all (every sync page) several times, as an app does
//! at start. Each entry must carry its unread count (1) and last message.
//! Then the first screen of the list as shown (the first page of 50 in
//! activity order, the inbox) is read repeatedly and checked to be in
//! order, and the whole list once more in activity order. Last, a search
//! over all of them is timed.
//! One user creates all the groups: raise the server's
//! `gateway.conversations_per_hour` and `conversations_burst` first, and
//! set `gateway.invitations` to `never` (the groups are of strangers).

use crate::report::{ConversationListReport, Latency};
use crate::setup::clients;
use hdrhistogram::Histogram;
use parley_sdk::{Encoding, pb};
use std::time::Instant;

/// Conversations created at a time.
const CREATE_CONCURRENCY: usize = 16;
/// Times the whole list is read.
const ROUNDS: u64 = 5;
/// Times the first screen is read.
const FIRST_SCREENS: u64 = 50;
/// Searches timed over all the user's conversations.
const SEARCHES: u64 = 20;
/// Conversations on the first screen.
const SCREEN: u32 = 50;

pub(crate) async fn run(
    urls: &[String],
    prefix: &str,
    conversations: usize,
    encoding: Encoding,
) -> anyhow::Result<ConversationListReport> {
    let people = clients(urls, prefix, 2, 2, encoding).await?;
    let (owner, other) = (&people[0].client, &people[1].client);
    let setup = Instant::now();
    let per = conversations.div_ceil(CREATE_CONCURRENCY);
    let mut tasks = Vec::new();
    for t in 0..CREATE_CONCURRENCY {
        let (other, member) = (other.clone(), owner.user_id());
        let n = per.min(conversations.saturating_sub(t * per));
        tasks.push(tokio::spawn(async move {
            for i in 0..n {
                let title = format!("list {t}-{i}");
                // One connection creates them all: past its frame rate the
                // gateway says when to come back (sends wait by themselves).
                let g = loop {
                    match other
                        .create_group(&title, std::slice::from_ref(&member))
                        .await
                    {
                        Err(parley_sdk::SdkError::Server {
                            code,
                            retry_after_ms,
                            ..
                        }) if code == "rate_limited" => {
                            let wait = u64::from(retry_after_ms.max(10));
                            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                        }
                        other => break other?,
                    }
                };
                crate::setup::require_added(&g)?;
                other.send_text(&g.id, "unread").await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let setup_secs = setup.elapsed().as_secs_f64();
    let mut page = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3).expect("valid bounds");
    let mut whole = page.clone();
    let (mut listed, mut checked, mut pages) = (0u64, 0u64, 0u64);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut after = String::new();
        loop {
            let t = Instant::now();
            let reply = owner.sync_page(&after, 0).await?;
            let _ = page.record((t.elapsed().as_micros() as u64).max(1));
            pages += 1;
            for st in &reply.conversations {
                listed += 1;
                checked += u64::from(st.unread_count == 1 && st.last_message.is_some());
            }
            if !reply.has_more || reply.next_after.is_empty() {
                break;
            }
            after = reply.next_after;
        }
        let _ = whole.record((started.elapsed().as_micros() as u64).max(1));
    }
    let mut screen = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3).expect("valid bounds");
    let mut in_order = true;
    for _ in 0..FIRST_SCREENS {
        let t = Instant::now();
        let reply = owner
            .list_page(pb::SyncRequest {
                limit: SCREEN,
                order: pb::SyncOrder::Activity as i32,
                filter: pb::SyncFilter::Inbox as i32,
                ..Default::default()
            })
            .await?;
        let _ = screen.record((t.elapsed().as_micros() as u64).max(1));
        in_order &= reply.conversations.len() == (SCREEN as usize).min(conversations)
            && is_activity_ordered(&reply.conversations);
    }
    let started = Instant::now();
    let (mut by_activity, mut after) = (Vec::new(), String::new());
    loop {
        let reply = owner
            .list_page(pb::SyncRequest {
                after,
                order: pb::SyncOrder::Activity as i32,
                ..Default::default()
            })
            .await?;
        by_activity.extend(reply.conversations);
        if !reply.has_more {
            break;
        }
        after = reply.next_after;
    }
    let whole_by_activity = started.elapsed().as_secs_f64() * 1000.0;
    in_order &= by_activity.len() == conversations && is_activity_ordered(&by_activity);
    let search_latency = search_all(owner).await?;
    for p in &people {
        p.client.close();
    }
    Ok(ConversationListReport {
        search_latency,
        first_screen_latency: Latency::from_us(&screen),
        whole_by_activity_ms: whole_by_activity,
        activity_ordered: in_order,
        conversations: conversations as u64,
        rounds: ROUNDS,
        listed,
        checked,
        pages_per_round: pages / ROUNDS,
        setup_secs,
        page_latency: Latency::from_us(&page),
        list_latency: Latency::from_us(&whole),
    })
}

/// Newest activity first (nothing here is pinned), every entry once.
fn is_activity_ordered(list: &[pb::ConversationState]) -> bool {
    let ids: std::collections::HashSet<&str> = list
        .iter()
        .filter_map(|s| s.conversation.as_ref().map(|c| c.id.as_str()))
        .collect();
    ids.len() == list.len()
        && list
            .windows(2)
            .all(|w| w[0].last_activity_ms >= w[1].last_activity_ms)
}

/// Searches over every conversation of the user (each holds a message
/// saying "unread"), once the index has caught up (within 60 s); `None`
/// when the server has search switched off.
async fn search_all(owner: &parley_sdk::Client) -> anyhow::Result<Option<Latency>> {
    let query = || pb::SearchRequest {
        query: "unread".into(),
        limit: 20,
        ..Default::default()
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match owner.search(query()).await {
            Ok(hits) if hits.len() == 20 => break,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Ok(hits) => anyhow::bail!("search found {} hits after 60 s", hits.len()),
            Err(parley_sdk::SdkError::Server { code, .. }) if code == "unavailable" => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut h = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3).expect("valid bounds");
    for _ in 0..SEARCHES {
        let t = Instant::now();
        let hits = owner.search(query()).await?;
        let _ = h.record((t.elapsed().as_micros() as u64).max(1));
        anyhow::ensure!(hits.len() == 20, "a search found {} hits", hits.len());
    }
    Ok(Some(Latency::from_us(&h)))
}
