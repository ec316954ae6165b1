use crate::Claims;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::RwLock;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("access token expired")]
    Expired,
    #[error("access token signed by unknown key {0:?}")]
    UnknownKey(String),
    #[error("invalid access token: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: String,
    #[serde(default)]
    kid: String,
    #[serde(default)]
    x: String,
}

/// Verifies access tokens against a JWKS, locally (no call per token).
pub struct Verifier {
    keys: RwLock<HashMap<String, DecodingKey>>,
    validation: Validation,
    leeway_secs: u64,
    /// `exp - iat` may not exceed this (plus leeway): a token minted with
    /// a stolen key for years, or by a misconfigured issuer, is refused.
    max_lifetime_secs: u64,
}

/// The longest access-token lifetime accepted unless told otherwise.
const DEFAULT_MAX_LIFETIME_SECS: u64 = 24 * 3600;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("kids", &self.keys.read().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Verifier {
    /// `leeway_secs`: clock skew tolerated on `exp`, `nbf` and `iat`.
    pub fn new(issuer: &str, audience: &str, leeway_secs: u64) -> Self {
        // One pinned algorithm: tokens claiming any other (or "none") fail.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = leeway_secs;
        Self {
            keys: RwLock::new(HashMap::new()),
            validation,
            leeway_secs,
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
        }
    }

    /// Refuses tokens whose `exp - iat` exceeds `secs` (the issuer's
    /// access-token TTL).
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime_secs = secs;
        self
    }

    /// Replaces the known keys with the Ed25519 keys of a JWKS document.
    pub fn load_jwks(&self, json: &str) -> Result<usize, TokenError> {
        let set: Jwks = serde_json::from_str(json)
            .map_err(|e| TokenError::Invalid(format!("bad JWKS: {e}")))?;
        let mut keys = HashMap::new();
        for k in set.keys {
            if k.kty == "OKP" && k.crv == "Ed25519" && !k.kid.is_empty() {
                let key = DecodingKey::from_ed_components(&k.x)
                    .map_err(|e| TokenError::Invalid(e.to_string()))?;
                keys.insert(k.kid, key);
            }
        }
        let n = keys.len();
        *self.keys.write() = keys;
        Ok(n)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("algorithm must be EdDSA".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("missing kid".into()))?;
        let keys = self.keys.read();
        let key = keys
            .get(&kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.clone()))?;
        crate::provider::install();
        match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
            Ok(data) => self.check_times(data.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(TokenError::Expired)
            }
            Err(e) => Err(TokenError::Invalid(e.to_string())),
        }
    }
}

impl Verifier {
    /// What jsonwebtoken does not check: issued in the future, or valid
    /// for longer than tokens are issued for.
    fn check_times(&self, c: Claims) -> Result<Claims, TokenError> {
        if c.iat > now_secs() + self.leeway_secs {
            return Err(TokenError::Invalid("token issued in the future".into()));
        }
        if c.exp.saturating_sub(c.iat) > self.max_lifetime_secs + self.leeway_secs {
            return Err(TokenError::Invalid(
                "token lifetime longer than access tokens are issued for".into(),
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SigningKey, jwks_json};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            iss: "parley".into(),
            aud: "parley".into(),
            sub: "u1".into(),
            sid: "s1".into(),
            iat: now(),
            exp,
        }
    }

    fn setup() -> (SigningKey, Verifier) {
        let key = SigningKey::generate().unwrap();
        let v = Verifier::new("parley", "parley", 5);
        assert_eq!(
            v.load_jwks(&jwks_json(std::slice::from_ref(&key))).unwrap(),
            1
        );
        (key, v)
    }

    #[test]
    fn valid_tokens_verify() {
        let (key, v) = setup();
        let c = claims(now() + 60);
        assert_eq!(v.verify(&key.sign(&c).unwrap()).unwrap(), c);
        // Keys survive a PKCS#8 round trip.
        let again = SigningKey::from_pkcs8(key.kid(), &key.to_pkcs8().unwrap()).unwrap();
        assert_eq!(v.verify(&again.sign(&c).unwrap()).unwrap(), c);
    }

    #[test]
    fn expired_forged_and_foreign_tokens_fail() {
        let (key, v) = setup();
        assert_eq!(
            v.verify(&key.sign(&claims(now() - 60)).unwrap()),
            Err(TokenError::Expired)
        );
        let other = SigningKey::generate().unwrap();
        assert!(matches!(
            v.verify(&other.sign(&claims(now() + 60)).unwrap()),
            Err(TokenError::UnknownKey(_))
        ));
        // A token whose payload was altered after signing.
        let t = key.sign(&claims(now() + 60)).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims(now() + 60);
        c.sub = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap()),
            parts[2]
        );
        assert!(matches!(v.verify(&forged), Err(TokenError::Invalid(_))));
        // Wrong audience or issuer.
        let mut c = claims(now() + 60);
        c.aud = "someone-else".into();
        assert!(matches!(
            v.verify(&key.sign(&c).unwrap()),
            Err(TokenError::Invalid(_))
        ));
        let mut c = claims(now() + 60);
        c.iss = "evil".into();
        assert!(matches!(
            v.verify(&key.sign(&c).unwrap()),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(v.verify("garbage"), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn future_iat_early_nbf_and_overlong_lifetimes_are_refused() {
        let (key, v) = setup();
        let v = v.with_max_lifetime(900);
        let mut c = claims(now() + 60);
        c.iat = now() + 3600;
        assert!(
            matches!(v.verify(&key.sign(&c).unwrap()), Err(TokenError::Invalid(m)) if m.contains("future"))
        );
        let mut c = claims(now() + 10 * 365 * 86400);
        c.iat = now();
        assert!(
            matches!(v.verify(&key.sign(&c).unwrap()), Err(TokenError::Invalid(m)) if m.contains("lifetime"))
        );
        // Exactly the TTL (and within leeway of now) is fine.
        let c = claims(now() + 900);
        assert!(v.verify(&key.sign(&c).unwrap()).is_ok());
        // nbf in the future: not valid yet.
        #[derive(serde::Serialize)]
        struct WithNbf<'a> {
            #[serde(flatten)]
            c: &'a Claims,
            nbf: u64,
        }
        let c = claims(now() + 60);
        let signed = key
            .sign_any(&WithNbf {
                c: &c,
                nbf: now() + 600,
            })
            .unwrap();
        assert!(
            matches!(v.verify(&signed), Err(TokenError::Invalid(_))),
            "nbf in the future"
        );
        let signed = key
            .sign_any(&WithNbf {
                c: &c,
                nbf: now() - 1,
            })
            .unwrap();
        assert!(v.verify(&signed).is_ok());
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let (key, v) = setup();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now() + 60)).unwrap());
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(
                r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#,
                key.kid()
            ));
            let token = format!("{header}.{body}.");
            assert!(
                matches!(v.verify(&token), Err(TokenError::Invalid(_))),
                "{alg} accepted"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2_000,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn arbitrary_tokens_are_refused_without_panicking(t in ".{0,300}") {
            let (_, v) = setup();
            proptest::prop_assert!(v.verify(&t).is_err());
        }

        #[test]
        fn a_valid_token_with_any_byte_changed_is_refused(i in 0usize..10_000, b in 1u8..=255) {
            let (key, v) = setup();
            let t = key.sign(&claims(now() + 60)).unwrap();
            let mut bytes = t.into_bytes();
            let at = i % bytes.len();
            bytes[at] ^= b;
            if let Ok(changed) = String::from_utf8(bytes) {
                // base64url's unused low bits of the last character can
                // change without changing the decoded bytes.
                if let Ok(c) = v.verify(&changed) {
                    proptest::prop_assert_eq!(c.sub, "u1");
                }
            }
        }
    }
}
