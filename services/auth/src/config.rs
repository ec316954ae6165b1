use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Password hashes computed at once (each costs ~30 ms of a core);
    /// 0 means half the cores, at least one.
    pub hash_concurrency: usize,
    /// Hashes that may wait for a hashing thread; one more sign-in is
    /// refused with 429 and Retry-After. 0 means 8 per hashing thread.
    pub hash_queue: usize,
    /// A directory of Ed25519 PKCS#8 PEM keys (`*.pem`, e.g. a mounted
    /// Secret). When set, these keys sign tokens instead of keys kept in the
    /// store: every one is published in the JWKS and the last by file name
    /// signs, so several auth replicas share them and rotation is adding a
    /// file that sorts last, then removing the old one after the access
    /// token TTL.
    pub signing_keys_dir: Option<std::path::PathBuf>,
    /// How hard a new password must be to guess: zxcvbn's score, 0-4 (2:
    /// common and breached passwords, keyboard patterns and the like are
    /// refused; 0: only the length is checked).
    pub min_password_score: u8,
    /// Who may create an account until an admin sets it on the admin page:
    /// `open`, `invite_only` (with a code from an admin), `closed` (admins
    /// create accounts) or `sso_only` (no passwords but admins').
    pub registration: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "parley".into(),
            audience: "parley".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            hash_concurrency: 0,
            hash_queue: 0,
            signing_keys_dir: None,
            min_password_score: 2,
            registration: "open".into(),
        }
    }
}

impl AuthConfig {
    pub(crate) fn hash_permits(&self) -> usize {
        match self.hash_concurrency {
            0 => (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1),
            n => n,
        }
    }

    pub(crate) fn hash_queue(&self) -> usize {
        match self.hash_queue {
            0 => 8 * self.hash_permits(),
            n => n,
        }
    }
}
