use serde::{Deserialize, Serialize};

/// How fanout finds the gateways of an event's recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// One bus message to every gateway with the recipients' ids; each
    /// gateway delivers to those it holds. No presence lookup on the send
    /// path: the cheapest with a handful of gateways (each gateway reads
    /// every event, so its cost grows with the number of gateways).
    #[default]
    Broadcast,
    /// A presence lookup per event, then one bus message per gateway that
    /// holds recipients: for deployments with many gateways.
    Presence,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FanoutConfig {
    pub delivery: Delivery,
}
