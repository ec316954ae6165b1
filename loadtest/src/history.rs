//! History sync: a conversation with many messages, read back page by page
//! by a device that was never online, as an app loading full history does.

use crate::report::{HistoryReport, Latency};
use crate::setup::clients;
use hdrhistogram::Histogram;
use parley_sdk::{Encoding, pb};
use std::time::Instant;

pub(crate) async fn run(
    urls: &[String],
    prefix: &str,
    messages: usize,
    encoding: Encoding,
) -> anyhow::Result<HistoryReport> {
    let people = clients(urls, prefix, 2, 2, encoding).await?;
    let (writer, reader) = (&people[0].client, &people[1].client);
    let conv = writer.create_group("history", &[reader.user_id()]).await?;
    crate::setup::require_added(&conv)?;
    let conv = conv.id;
    // Filled by several concurrent senders; their order does not matter here.
    let per = messages.div_ceil(8);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let w = writer.clone();
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                w.send_text(&conv, &format!("history {t}-{i}")).await?;
            }
            Ok::<_, parley_sdk::SdkError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let head = (per * 8) as u64 + 1;
    let mut latency = Histogram::<u64>::new_with_bounds(1, 300_000_000, 3).expect("valid bounds");
    let started = Instant::now();
    let (mut next, mut events, mut pages) = (1u64, 0u64, 0u64);
    while next <= head {
        let t = Instant::now();
        let h = reader
            .history(pb::HistoryRequest {
                conversation_id: conv.clone(),
                from_seq: next,
                to_seq: head,
                limit: 500,
                ..Default::default()
            })
            .await?;
        let _ = latency.record((t.elapsed().as_micros() as u64).max(1));
        pages += 1;
        events += h.events.len() as u64;
        anyhow::ensure!(
            h.covered_to >= next,
            "history made no progress at seq {next}"
        );
        next = h.covered_to + 1;
    }
    let secs = started.elapsed().as_secs_f64().max(0.000_001);
    for p in &people {
        p.client.close();
    }
    Ok(HistoryReport {
        head_seq: head,
        events,
        pages,
        seconds: secs,
        events_per_sec: events as f64 / secs,
        page_latency: Latency::from_us(&latency),
    })
}
