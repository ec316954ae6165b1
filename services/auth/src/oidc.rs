//! Single sign-on with OpenID Connect: the authorization code flow with
//! PKCE, state and nonce, against any number of configured providers
//! (discovery, ID-token validation by the `openidconnect` crate). Accounts
//! are linked by (issuer, subject) and created on first sign-in, unless
//! registration is closed; a provider may admit only some email domains or
//! the members of one group.
//!
//! The flow, through the gateway's HTTP edge:
//! 1. `start`: a state record (provider, nonce, PKCE verifier, device) for
//!    10 minutes, and the provider's authorization URL to send the browser to.
//! 2. `finish` (the provider redirected back with `code` and `state`): the
//!    state record is spent, the code exchanged, the ID token checked
//!    (signature, issuer, audience, expiry, nonce), the rules applied, the
//!    account found or created; the answer is a one-time ticket valid for
//!    60 seconds, handed to the app in the URL fragment (never sent to a
//!    server, unlike a query).
//! 3. `redeem`: the app trades the ticket for a session's tokens.

use crate::AuthService;
use crate::config::OidcProvider;
use crate::oidc_http::HttpClient;
use crate::records;
use crate::tokens::{hash_token, new_refresh_token};
use openidconnect::core::{CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use parley_core::time::now_ms;
use parley_core::{ServiceError, ServiceResult};
use parley_ports::AuthRecordKind;
use parley_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a sign-in may take at the provider.
const STATE_TTL_SECS: u32 = 600;
/// How long the app has to redeem a ticket.
const TICKET_TTL_SECS: u32 = 60;
/// How long a provider's discovery document and keys are reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// The path the provider sends the browser back to (under `auth.public_url`).
pub const CALLBACK_PATH: &str = "/v1/auth/oidc/callback";

#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    provider: String,
    nonce: String,
    pkce_verifier: String,
    device_name: String,
}

#[derive(Serialize, Deserialize)]
struct Ticket {
    user_id: String,
    device_name: String,
    client: Option<(String, String)>,
}

/// Discovered provider metadata (with its keys), reused for a while, and
/// the HTTP client for providers (its TLS setup reads the system's root
/// certificates: once, not per sign-in).
#[derive(Default)]
pub(crate) struct Discovery {
    cache: tokio::sync::Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
    http: std::sync::OnceLock<HttpClient>,
}

impl Discovery {
    fn http(&self) -> ServiceResult<&HttpClient> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let c = HttpClient::new().map_err(|e| provider_error("client", e))?;
        Ok(self.http.get_or_init(|| c))
    }
}

/// What sign-in rules need to know of an identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub preferred_username: Option<String>,
    pub groups: Vec<String>,
}

fn provider_error(what: &str, e: impl std::fmt::Display) -> ServiceError {
    tracing::warn!(error = %e, "single sign-on: {what}");
    ServiceError::Unavailable(format!(
        "the identity provider could not be reached ({what})"
    ))
}

fn refused(why: &str) -> ServiceError {
    ServiceError::PermissionDenied(why.to_string())
}

/// Whether the provider's rules admit this identity.
pub(crate) fn admits(p: &OidcProvider, id: &Identity) -> Result<(), ServiceError> {
    if !p.allowed_email_domains.is_empty() {
        let Some(email) = &id.email else {
            return Err(refused(
                "your identity provider did not say your email address",
            ));
        };
        if id.email_verified == Some(false) {
            return Err(refused("your email address is not verified"));
        }
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        let ok = domain.is_some_and(|d| {
            p.allowed_email_domains
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&d))
        });
        if !ok {
            return Err(refused(
                "accounts of your email domain may not sign in here",
            ));
        }
    }
    if let Some(group) = &p.required_group
        && !id.groups.iter().any(|g| g == group)
    {
        return Err(refused("you are not in the group that may sign in here"));
    }
    Ok(())
}

/// A valid Parley username from what the provider says (its preferred
/// username, else the email's local part), before uniqueness.
pub(crate) fn username_base(id: &Identity) -> String {
    let raw = id
        .preferred_username
        .clone()
        .or_else(|| {
            id.email
                .as_ref()
                .map(|e| e.split('@').next().unwrap_or_default().to_string())
        })
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').chars().take(28).collect();
    if name.len() < 3 {
        name = format!("user-{name}").trim_end_matches('-').to_string();
    }
    name
}

/// The groups claim of a verified ID token (a list of strings, or one).
fn groups_of(id_token: &str, claim: &str) -> Vec<String> {
    use base64::Engine;
    let Some(payload) = id_token.split('.').nth(1) else {
        return Vec::new();
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    match &v[claim] {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|g| g.as_str().map(String::from))
            .collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl AuthService {
    fn provider(&self, id: &str) -> ServiceResult<&OidcProvider> {
        self.config
            .oidc_providers
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ServiceError::NotFound(format!("no sign-in provider {id:?}")))
    }

    fn redirect_url(&self) -> ServiceResult<RedirectUrl> {
        let base = self.config.public_url.trim_end_matches('/');
        RedirectUrl::new(format!("{base}{CALLBACK_PATH}"))
            .map_err(|e| ServiceError::Internal(format!("auth.public_url: {e}")))
    }

    async fn metadata(&self, p: &OidcProvider) -> ServiceResult<CoreProviderMetadata> {
        let mut cache = self.discovery.cache.lock().await;
        if let Some((at, m)) = cache.get(&p.id)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(p.issuer.clone())
            .map_err(|e| ServiceError::Internal(format!("issuer of {}: {e}", p.id)))?;
        let http = self.discovery.http()?;
        let m = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| provider_error("discovery", e))?;
        cache.insert(p.id.clone(), (Instant::now(), m.clone()));
        Ok(m)
    }

    async fn client(&self, p: &OidcProvider) -> ServiceResult<CoreClientWithEndpoints> {
        let metadata = self.metadata(p).await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.client_id.clone()),
            p.secret().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect_url()?))
    }

    pub(crate) fn oidc_provider_list(&self) -> pb::OidcProviderList {
        pb::OidcProviderList {
            providers: self
                .config
                .oidc_providers
                .iter()
                .map(|p| pb::OidcProviderInfo {
                    id: p.id.clone(),
                    name: p.name.clone(),
                })
                .collect(),
        }
    }

    pub(crate) async fn oidc_start_impl(
        &self,
        req: pb::OidcStartRequest,
    ) -> ServiceResult<pb::OidcStartReply> {
        let p = self.provider(&req.provider_id)?;
        if req.device_name.chars().count() > 64 {
            return Err(ServiceError::InvalidArgument(
                "device_name is longer than 64 characters".into(),
            ));
        }
        let client = self.client(p).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut auth = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &p.scopes {
            auth = auth.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = auth.url();
        let pending = PendingSignIn {
            provider: p.id.clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            device_name: req.device_name,
        };
        let key = hash_token(state.secret());
        let store = &*self.store;
        records::put(
            store,
            AuthRecordKind::OidcState,
            "",
            &key,
            &pending,
            Some(STATE_TTL_SECS),
        )
        .await?;
        Ok(pb::OidcStartReply {
            authorization_url: url.to_string(),
        })
    }

    /// The provider sent the browser back: checks everything, finds or
    /// creates the account, and returns a one-time ticket for its session.
    pub(crate) async fn oidc_finish_impl(
        &self,
        req: pb::OidcFinishRequest,
    ) -> ServiceResult<pb::OidcTicket> {
        let expired = || {
            ServiceError::Unauthenticated(
                "this sign-in link has expired or was already used: start again".into(),
            )
        };
        if req.state.is_empty() || req.state.len() > 256 {
            return Err(expired());
        }
        let key = hash_token(&req.state);
        let kind = AuthRecordKind::OidcState;
        let pending: PendingSignIn = {
            // Spent exactly once, whoever comes back with it.
            let _one = self.invites.lock().await;
            let found = records::get(&*self.store, kind, "", &key).await?;
            self.store.delete_record(kind, "", &key).await?;
            found.ok_or_else(expired)?
        };
        if !req.error.is_empty() {
            let why = if req.error_description.is_empty() {
                &req.error
            } else {
                &req.error_description
            };
            return Err(refused(&format!(
                "the identity provider refused: {}",
                why.chars().take(200).collect::<String>()
            )));
        }
        let p = self.provider(&pending.provider)?;
        let client = self.client(p).await?;
        let http = self.discovery.http()?;
        let token = client
            .exchange_code(AuthorizationCode::new(req.code))
            .map_err(|e| ServiceError::Internal(format!("provider {}: {e}", p.id)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(http)
            .await
            .map_err(|e| {
                tracing::info!(provider = %p.id, error = %e, "single sign-on: code exchange refused");
                refused("the identity provider did not accept this sign-in (it may have expired): start again")
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| refused("the identity provider sent no ID token"))?;
        let verifier = client.id_token_verifier();
        let claims: &CoreIdTokenClaims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce))
            .map_err(|e| {
                tracing::warn!(provider = %p.id, error = %e, "single sign-on: ID token refused");
                refused("the identity provider's ID token did not check out")
            })?;
        let identity = Identity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified(),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
            groups: groups_of(&id_token.to_string(), &p.groups_claim),
        };
        admits(p, &identity)?;
        let user_id = self.linked_account(p, &identity).await?;
        let ticket = new_refresh_token()?;
        let t = Ticket {
            user_id,
            device_name: pending.device_name,
            client: req.client.map(|c| (c.address, c.user_agent)),
        };
        let tk = AuthRecordKind::OidcTicket;
        records::put(
            &*self.store,
            tk,
            "",
            &hash_token(&ticket),
            &t,
            Some(TICKET_TTL_SECS),
        )
        .await?;
        metrics::counter!("parley_auth_sso_sign_ins_total").increment(1);
        Ok(pb::OidcTicket { ticket })
    }

    /// The account linked to this identity, created on first sign-in.
    async fn linked_account(&self, p: &OidcProvider, id: &Identity) -> ServiceResult<String> {
        let store = &*self.store;
        let link = AuthRecordKind::OidcLink;
        // Two first sign-ins of one identity at once make one account.
        let _one_at_a_time = self.sso_links.lock().await;
        if let Some(user_id) = store.record(link, &id.issuer, &id.subject).await? {
            let user_id = String::from_utf8_lossy(&user_id).into_owned();
            if self.account_info(&user_id).await?.deactivated_at_ms != 0 {
                return Err(refused("this account is deactivated"));
            }
            return Ok(user_id);
        }
        if self.mode().await? == pb::RegistrationMode::Closed {
            return Err(refused(
                "no account here is linked to this identity, and only administrators create accounts",
            ));
        }
        let base = username_base(id);
        let user = self.create_sso_account(&base).await?;
        store
            .put_record(link, &id.issuer, &id.subject, user.id.as_bytes(), None)
            .await?;
        tracing::info!(provider = %p.id, user = %user.username, "single sign-on created an account");
        Ok(user.id)
    }

    /// An account without a password under `base`, or `base-2`, `base-3`...
    async fn create_sso_account(&self, base: &str) -> ServiceResult<parley_ports::UserRecord> {
        for n in 1..=50u32 {
            let username = if n == 1 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            };
            let user = parley_ports::UserRecord {
                id: uuid::Uuid::now_v7().to_string(),
                username,
                // No password: a password login never matches it.
                password_hash: String::new(),
                created_at_ms: now_ms(),
            };
            match self.store.create_user(&user).await {
                Ok(()) => {
                    self.on_account_created(&user).await?;
                    metrics::counter!("parley_auth_registrations_total").increment(1);
                    return Ok(user);
                }
                Err(parley_ports::StoreError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::AlreadyExists(format!(
            "no free username like {base:?}"
        )))
    }

    pub(crate) async fn oidc_redeem_impl(
        &self,
        req: pb::OidcTicket,
    ) -> ServiceResult<pb::TokenPair> {
        let invalid = || {
            ServiceError::Unauthenticated("this sign-in ticket is not valid: sign in again".into())
        };
        if req.ticket.is_empty() || req.ticket.len() > 128 {
            return Err(invalid());
        }
        let key = hash_token(&req.ticket);
        let kind = AuthRecordKind::OidcTicket;
        let t: Ticket = {
            let _one = self.invites.lock().await;
            let found = records::get(&*self.store, kind, "", &key).await?;
            self.store.delete_record(kind, "", &key).await?;
            found.ok_or_else(invalid)?
        };
        let user = self.user(&t.user_id).await?;
        if self.account_info(&user.id).await?.deactivated_at_ms != 0 {
            return Err(refused("this account is deactivated"));
        }
        let client = t.client.map(|(address, user_agent)| pb::ClientInfo {
            address,
            user_agent,
        });
        let mut pair = self
            .new_session(&user.id, &t.device_name, client.as_ref())
            .await?;
        pair.username = user.username;
        Ok(pair)
    }
}

type CoreClientWithEndpoints = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> OidcProvider {
        OidcProvider {
            id: "corp".into(),
            name: "Corp".into(),
            allowed_email_domains: vec!["example.com".into()],
            required_group: Some("chat".into()),
            ..Default::default()
        }
    }

    fn person(email: &str, groups: &[&str]) -> Identity {
        Identity {
            email: Some(email.into()),
            email_verified: Some(true),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_allowed_domains_and_the_required_group_get_in() {
        let p = provider();
        assert!(admits(&p, &person("ann@example.com", &["chat"])).is_ok());
        assert!(admits(&p, &person("ann@EXAMPLE.com", &["chat", "x"])).is_ok());
        assert!(admits(&p, &person("eve@evil.test", &["chat"])).is_err());
        assert!(admits(&p, &person("ann@example.com.evil.test", &["chat"])).is_err());
        assert!(admits(&p, &person("ann@example.com", &["other"])).is_err());
        let unverified = Identity {
            email_verified: Some(false),
            ..person("ann@example.com", &["chat"])
        };
        assert!(admits(&p, &unverified).is_err());
        let no_email = Identity {
            email: None,
            ..person("x", &["chat"])
        };
        assert!(admits(&p, &no_email).is_err());
        assert!(admits(&OidcProvider::default(), &Identity::default()).is_ok());
    }

    #[test]
    fn usernames_come_from_the_identity_and_are_valid() {
        let name = |pref: Option<&str>, email: Option<&str>| {
            username_base(&Identity {
                preferred_username: pref.map(String::from),
                email: email.map(String::from),
                ..Default::default()
            })
        };
        assert_eq!(name(Some("Ann.Lee"), None), "ann-lee");
        assert_eq!(name(None, Some("bob.smith@example.com")), "bob-smith");
        assert_eq!(name(Some("jo"), None), "user-jo");
        assert_eq!(name(None, None), "user");
        assert_eq!(name(Some("ÄÖÜ"), None), "user");
        let long = name(Some(&"x".repeat(100)), None);
        assert_eq!(long.len(), 28, "room left for a -NN suffix");
        for n in [name(Some("Ann.Lee"), None), long, name(None, None)] {
            parley_core::ids::validate_username(&n).unwrap();
        }
    }

    #[test]
    fn groups_are_read_from_the_token_as_a_list_or_one() {
        use base64::Engine;
        let enc = |v: serde_json::Value| {
            format!(
                "h.{}.s",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
            )
        };
        assert_eq!(
            groups_of(&enc(serde_json::json!({"groups": ["a", "b"]})), "groups"),
            ["a", "b"]
        );
        assert_eq!(
            groups_of(&enc(serde_json::json!({"roles": "x"})), "roles"),
            ["x"]
        );
        assert!(groups_of(&enc(serde_json::json!({})), "groups").is_empty());
        assert!(groups_of("garbage", "groups").is_empty());
    }
}
