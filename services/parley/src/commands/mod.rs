//! The bodies of the `parley` subcommands that are more than one call
//! (main.rs parses the command line and picks one).

pub mod admin;
pub mod cluster;
pub mod keygen;
pub mod migrate;
pub mod up;
