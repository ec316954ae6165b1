//! Access tokens: short-lived JWTs signed with Ed25519 (EdDSA, the one
//! pinned algorithm), identified by `kid`, published as a JWKS, verified
//! locally by gateways with `iss`, `aud` and `exp` checked.

mod keys;
mod provider;
mod verifier;

pub use keys::{SigningKey, jwks_json};
pub use verifier::{TokenError, Verifier};

use serde::{Deserialize, Serialize};

/// The claims of a Parley access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session (device) id: refresh-token family.
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
}
