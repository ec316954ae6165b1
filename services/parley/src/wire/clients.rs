use crate::config::Config;
use crate::internal_tls::InternalTls;
use crate::net::{balanced, channel, storage_router};
use parley_core::peer::Peer;
use parley_core::services::{AuthClient, FanoutClient, PresenceClient, StorageClient};

/// The services a gateway calls: local in `parley up`, remote in split mode.
#[derive(Clone, Debug)]
pub struct Clients {
    pub storage: StorageClient,
    pub auth: AuthClient,
    pub presence: PresenceClient,
    pub fanout: FanoutClient,
}

impl Clients {
    /// Clients of the services at the `cluster.*_url` settings (channels
    /// connect lazily and reconnect by themselves).
    pub fn remote(config: &Config, tls: &InternalTls) -> anyhow::Result<Self> {
        Ok(Self {
            storage: storage_router(config, tls)?,
            auth: AuthClient::remote(channel(&config.cluster.auth_url, tls, Peer::Auth)?),
            presence: Self::remote_presence(config, tls)?,
            fanout: FanoutClient::remote(balanced(&config.cluster.fanout_urls, tls, Peer::Fanout)?),
        })
    }

    pub fn remote_presence(config: &Config, tls: &InternalTls) -> anyhow::Result<PresenceClient> {
        Ok(PresenceClient::remote(channel(
            &config.cluster.presence_url,
            tls,
            Peer::Presence,
        )?))
    }
}
