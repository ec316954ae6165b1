//! The storage service: the owner of every conversation's timeline.
//!
//! It is the commit point of the send path: membership check, dedup, seq
//! assignment from leased blocks, durable write, then the "event stored"
//! publication that fanout consumes. See `sequencer` for the ordering rules.

mod access;
mod change_locks;
mod config;
mod consent;
mod conversation_list;
mod conversations;
mod group_admin;
mod handlers;
mod invitations;
mod member_state;
mod member_versions;
mod mentions;
mod message_index;
mod pages;
mod pins;
mod publisher;
mod reactions;
mod search;
mod sequencer;
mod service;
mod shard;
mod threads;
mod timeline;

pub use config::StorageConfig;
pub use service::StorageService;
