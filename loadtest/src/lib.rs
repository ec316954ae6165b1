//! Parley's load generator.
//!
//! Clients are real SDK clients over WebSockets. Sends are scheduled open
//! loop at a fixed rate and timed from their *intended* send time (no
//! coordinated omission); each payload carries its message id and intended
//! time, so every delivery is timed and checked: a run with any loss,
//! duplicate, reordering or seq mismatch fails, whatever its speed.

pub mod chart;
mod conversation_list;
mod history;
mod idle;
mod ledger;
mod membership;
mod procstat;
mod reconnect;
mod report;
mod run;
pub mod seconds;
mod setup;

pub use report::{
    ConnectionReport, ConversationListReport, HistoryReport, Latency, ReconnectReport, Report,
    ServerSample, TimelinePoint,
};
pub use run::{LoadConfig, Scenario, reconnect_report, run};
