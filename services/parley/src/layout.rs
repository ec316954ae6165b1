//! Where the embedded stores keep their files under `data_dir`: decided
//! here and nowhere else. `parley up` and the split-mode services use
//! different names, so one data directory can hold a `parley auth` and a
//! `parley storage` without either opening the other's files.

use crate::config::Config;
use crate::mode::{Mode, ServiceName};
use std::path::PathBuf;

/// The embedded files of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedFiles {
    /// Accounts, sessions and signing keys (redb).
    pub accounts: PathBuf,
    /// Timelines (a fjall directory).
    pub timeline: PathBuf,
    /// The redb file in which a version before the fjall store kept
    /// timelines (`parley migrate --from-redb` imports it).
    pub legacy_timeline: PathBuf,
    /// The full-text index of the messages this process stores (always on
    /// local disk, also with ScyllaDB).
    pub search: PathBuf,
}

impl EmbeddedFiles {
    pub fn of(config: &Config, mode: Mode) -> Self {
        let dir = &config.data_dir;
        match mode {
            Mode::Split(ServiceName::Storage) => Self {
                accounts: dir.join("auth.redb"),
                timeline: dir.join("storage-timeline"),
                legacy_timeline: dir.join("storage.redb"),
                search: dir.join("storage-search"),
            },
            Mode::Split(_) => Self {
                accounts: dir.join("auth.redb"),
                timeline: dir.join("timeline"),
                legacy_timeline: dir.join("parley.redb"),
                search: dir.join("search"),
            },
            Mode::Embedded => Self {
                accounts: dir.join("parley.redb"),
                timeline: dir.join("timeline"),
                legacy_timeline: dir.join("parley.redb"),
                search: dir.join("search"),
            },
        }
    }

    /// Every layout a data directory can hold, for commands that look at
    /// whatever is there (`parley migrate --from-redb`).
    pub fn every_layout(config: &Config) -> [Self; 2] {
        [
            Self::of(config, Mode::Embedded),
            Self::of(config, Mode::Split(ServiceName::Storage)),
        ]
    }
}
