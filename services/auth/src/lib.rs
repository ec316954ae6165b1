//! The auth service: accounts with argon2id password hashes, one session
//! per device login, short-lived EdDSA access tokens, opaque refresh tokens
//! stored hashed and rotated on every use (reuse revokes the session), and
//! the JWKS gateways verify access tokens with.

mod config;
pub mod key_files;
mod password_policy;
mod passwords;
mod service;
mod tokens;

pub use config::AuthConfig;
pub use service::AuthService;
