//! `parley admin`: account administration on the store itself, for when no
//! admin can sign in (a server whose accounts predate roles, a lost admin).

use crate::backends::Backends;
use crate::config::Config;
use crate::mode::{Mode, ServiceName};
use anyhow::Context;

pub enum Change {
    /// Give (true) or take (false) the admin role of an account.
    Role(String, bool),
    /// Set the registration mode.
    Registration(String),
}

pub async fn run(config: &Config, split: bool, change: Change) -> anyhow::Result<()> {
    let mode = if split {
        Mode::Split(ServiceName::Auth)
    } else {
        Mode::Embedded
    };
    let backends = Backends::new(config, mode);
    let store = backends.auth_store().await.context(
        "opening the account store (an embedded store is locked while Parley runs: \
         stop it first, or use the admin page)",
    )?;
    match change {
        Change::Role(username, admin) => {
            parley_auth::command_line::set_admin(&*store, &username, admin).await?;
            let role = if admin {
                "an admin"
            } else {
                "no longer an admin"
            };
            println!("{username} is {role}");
        }
        Change::Registration(mode) => {
            parley_auth::command_line::set_registration(&*store, &mode).await?;
            println!("registration: {mode}");
        }
    }
    Ok(())
}
