//! `parley keygen`: prints a new Ed25519 token-signing key (PKCS#8 PEM).
//!
//! `parley keygen > k1.pem` has the shell create the file with its umask,
//! often 0644: a key every user of the machine could read, and which auth
//! then refuses to load. So when standard output is a regular file it is
//! made owner-only (0600) before the key is written to it.

use anyhow::Context;
use rustix::fs::{FileType, Mode};
use std::io::Write;
use std::os::fd::AsFd;

pub fn run() -> anyhow::Result<()> {
    let key = parley_jwt::SigningKey::generate().map_err(anyhow::Error::msg)?;
    let pem = key.to_pkcs8_pem().map_err(anyhow::Error::msg)?;
    let stdout = std::io::stdout();
    let st = rustix::fs::fstat(stdout.as_fd()).context("inspecting standard output")?;
    if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
        rustix::fs::fchmod(stdout.as_fd(), Mode::from_raw_mode(0o600))
            .context("making the key file owner-only")?;
    }
    let mut out = stdout.lock();
    out.write_all(pem.as_bytes())?;
    out.flush()?;
    Ok(())
}
