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
    /// Single sign-on providers (OpenID Connect), shown as "Sign in with ...".
    pub oidc_providers: Vec<OidcProvider>,
    /// Where browsers reach Parley (e.g. "https://chat.example.com"): the
    /// providers send them back to `<public_url>/v1/auth/oidc/callback`.
    /// Needed when `oidc_providers` is set.
    pub public_url: String,
}

/// One OpenID Connect provider (any that supports discovery and the
/// authorization code flow: Keycloak, Entra ID, Google, Okta, Authentik...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OidcProvider {
    /// Short id, in URLs: a-z, 0-9 and '-'.
    pub id: String,
    /// Shown on the sign-in button.
    pub name: String,
    /// The issuer URL (its /.well-known/openid-configuration is read).
    pub issuer: String,
    pub client_id: String,
    /// For a confidential client (PKCE is used either way).
    pub client_secret: Option<String>,
    /// Or: the environment variable holding the client secret (e.g. set
    /// from a Kubernetes Secret), so it stays out of the config file.
    pub client_secret_env: Option<String>,
    /// Scopes asked besides `openid`.
    pub scopes: Vec<String>,
    /// Only people with a verified email address of these domains may sign
    /// in (empty: anyone the provider vouches for).
    pub allowed_email_domains: Vec<String>,
    /// Only members of this group (from `groups_claim` of the ID token).
    pub required_group: Option<String>,
    pub groups_claim: String,
}

impl Default for OidcProvider {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            client_secret_env: None,
            scopes: vec!["email".into(), "profile".into()],
            allowed_email_domains: Vec::new(),
            required_group: None,
            groups_claim: "groups".into(),
        }
    }
}

impl OidcProvider {
    /// The client secret, from the file or the environment.
    pub(crate) fn secret(&self) -> Option<String> {
        self.client_secret.clone().or_else(|| {
            self.client_secret_env
                .as_ref()
                .and_then(|v| std::env::var(v).ok())
        })
    }
}

impl AuthConfig {
    /// Settings that cannot work, named.
    pub fn check(&self) -> Result<(), String> {
        crate::registration::parse_mode(&self.registration)?;
        let mut ids = std::collections::HashSet::new();
        for p in &self.oidc_providers {
            let id_ok = (1..=32).contains(&p.id.len())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return Err(format!(
                    "auth.oidc_providers: id {:?} must be 1-32 characters of a-z, 0-9 and '-'",
                    p.id
                ));
            }
            if !ids.insert(&p.id) {
                return Err(format!("auth.oidc_providers: id {:?} is used twice", p.id));
            }
            if let Some(var) = &p.client_secret_env
                && std::env::var(var).map_or(true, |v| v.is_empty())
            {
                return Err(format!(
                    "auth.oidc_providers {:?}: client_secret_env names {var}, which is not set",
                    p.id
                ));
            }
            let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                .iter()
                .any(|l| p.issuer.starts_with(l));
            if !p.issuer.is_empty() && !p.issuer.starts_with("https://") && !local {
                return Err(format!(
                    "auth.oidc_providers {:?}: the issuer must be an https:// URL",
                    p.id
                ));
            }
            if p.issuer.is_empty() || p.client_id.is_empty() || p.name.is_empty() {
                return Err(format!(
                    "auth.oidc_providers {:?}: name, issuer and client_id are required",
                    p.id
                ));
            }
        }
        let public_url_ok =
            self.public_url.starts_with("https://") || self.public_url.starts_with("http://");
        if !(self.oidc_providers.is_empty() || public_url_ok) {
            return Err(
                "auth.public_url (e.g. https://chat.example.com) is required for single sign-on"
                    .into(),
            );
        }
        Ok(())
    }
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
            oidc_providers: Vec::new(),
            public_url: String::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with(p: OidcProvider, public_url: &str) -> AuthConfig {
        AuthConfig {
            oidc_providers: vec![p],
            public_url: public_url.into(),
            ..Default::default()
        }
    }

    fn corp() -> OidcProvider {
        OidcProvider {
            id: "corp".into(),
            name: "Corp".into(),
            issuer: "https://id.example.com".into(),
            client_id: "parley".into(),
            ..Default::default()
        }
    }

    #[test]
    fn single_sign_on_settings_that_cannot_work_are_named() {
        assert!(AuthConfig::default().check().is_ok());
        assert!(with(corp(), "https://chat.example.com").check().is_ok());
        let e = with(corp(), "").check().unwrap_err();
        assert!(e.contains("auth.public_url"), "{e}");
        let bad_id = OidcProvider {
            id: "Corp ID".into(),
            ..corp()
        };
        assert!(
            with(bad_id, "https://c")
                .check()
                .unwrap_err()
                .contains("id")
        );
        let no_issuer = OidcProvider {
            issuer: String::new(),
            ..corp()
        };
        assert!(
            with(no_issuer, "https://c")
                .check()
                .unwrap_err()
                .contains("issuer")
        );
        let plain = OidcProvider {
            issuer: "http://id.example.com".into(),
            ..corp()
        };
        assert!(
            with(plain, "https://c")
                .check()
                .unwrap_err()
                .contains("https")
        );
        let local = OidcProvider {
            issuer: "http://127.0.0.1:9000".into(),
            ..corp()
        };
        assert!(with(local, "http://127.0.0.1:8080").check().is_ok());
        let mut twice = with(corp(), "https://c");
        twice.oidc_providers.push(corp());
        assert!(twice.check().unwrap_err().contains("twice"));
        let mode = AuthConfig {
            registration: "sometimes".into(),
            ..Default::default()
        };
        assert!(mode.check().is_err());
    }
}
