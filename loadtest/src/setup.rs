//! Users, clients and conversations for a run.

use anyhow::Context;
use parley_sdk::{Client, ClientConfig, ClientEvent, Encoding};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};

pub(crate) const PASSWORD: &str = "parley-loadtest-password";

pub(crate) struct Participant {
    pub client: Client,
    pub events: Option<mpsc::UnboundedReceiver<ClientEvent>>,
}

/// Registers (if needed) and logs in `count` users, spreading them over the
/// gateways; `concurrency` logins at a time (each costs a password hash).
pub(crate) async fn clients(
    urls: &[String],
    prefix: &str,
    count: usize,
    concurrency: usize,
    encoding: Encoding,
) -> anyhow::Result<Vec<Participant>> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::new();
    for i in 0..count {
        let url = urls[i % urls.len()].clone();
        let fallbacks: Vec<String> = urls.iter().filter(|u| **u != url).cloned().collect();
        let name = format!("{prefix}-{i}");
        let permits = permits.clone();
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire_owned().await?;
            match parley_sdk::register(&url, &name, PASSWORD).await {
                Ok(_) => {}
                Err(e) if e.code() == Some("already_exists") => {}
                Err(e) if e.code() == Some("rate_limited") => {
                    return Err(anyhow::anyhow!(
                        "register {name}: {e}: the server limits new accounts per address; \
                         start it with gateway.registrations_per_hour_per_address = 0 \
                         (PARLEY_GATEWAY__REGISTRATIONS_PER_HOUR_PER_ADDRESS=0)"
                    ));
                }
                Err(e) => return Err(anyhow::anyhow!("register {name}: {e}")),
            }
            let mut cfg = ClientConfig::new(url);
            cfg.fallback_urls = fallbacks;
            cfg.encoding = encoding;
            cfg.device_name = "loadtest".into();
            let (client, events) = Client::login(cfg, &name, PASSWORD)
                .await
                .with_context(|| format!("login {name}"))?;
            Ok::<_, anyhow::Error>(Participant {
                client,
                events: Some(events),
            })
        }));
    }
    let mut out = Vec::with_capacity(count);
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

/// The load is conversations of strangers, whom a server in its default
/// mode invites rather than adds: refuse to measure anything then.
pub(crate) fn require_added(conv: &parley_sdk::pb::Conversation) -> anyhow::Result<()> {
    if !conv.invited_ids.is_empty() || conv.request.is_some() {
        anyhow::bail!(
            "the server invites strangers rather than adding them: start it with \
             gateway.invitations = \"never\" (PARLEY_GATEWAY__INVITATIONS=never)"
        );
    }
    Ok(())
}
