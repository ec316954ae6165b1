//! The auth service: accounts with argon2id password hashes, one session
//! per device login, short-lived EdDSA access tokens, opaque refresh tokens
//! stored hashed and rotated on every use (reuse revokes the session), and
//! the JWKS gateways verify access tokens with.

mod accounts;
mod admin;
mod audit;
pub mod command_line;
mod config;
pub mod key_files;
mod oidc;
mod oidc_http;
mod password_policy;
mod passwords;
mod records;
mod registration;
mod service;
mod sessions;
mod tokens;

pub use config::{AuthConfig, OidcProvider};
pub use oidc::CALLBACK_PATH;
pub use service::AuthService;
