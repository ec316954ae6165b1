//! The fanout service: consumes the stored-event stream and delivers each
//! event to the conversation's online members; delivers ephemeral signals
//! (typing, receipts, presence changes) the same way.

mod service;
mod worker;

pub use service::FanoutService;
pub use worker::run_stored_worker;

/// Consumer group of the stored-event stream shared by all fanout workers.
pub const FANOUT_GROUP: &str = "fanout";
