//! The fanout service: consumes the stored-event stream and delivers each
//! event to the conversation's online members; delivers ephemeral signals
//! (typing, receipts, presence changes) the same way. Member lists are
//! cached by version (`recipients`); a push goes to the gateways in one bus
//! message each (`FanoutConfig::delivery`), never one per recipient.

mod coalescer;
mod config;
mod recipients;
mod service;
mod worker;

pub use config::{Delivery, FanoutConfig};
pub use service::FanoutService;
pub use worker::run_stored_worker;

/// Consumer group of the stored-event stream shared by all fanout workers.
pub const FANOUT_GROUP: &str = "fanout";
