use crate::Claims;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// An Ed25519 signing key with its key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A key id derived from the public key.
fn kid_of(key: &ed25519_dalek::SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(&key.verifying_key().to_bytes()[..12])
}

impl SigningKey {
    /// A fresh random key; its kid is derived from the public key.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        Self::from_parts(kid_of(&key), key)
    }

    /// A key from a PKCS#8 PEM file (e.g. `openssl genpkey -algorithm
    /// ed25519` or `parley keygen`); its kid is derived from the public key,
    /// so every replica that loads the same file publishes the same kid.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, String> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("not an Ed25519 PKCS#8 PEM key: {e}"))?;
        Self::from_parts(kid_of(&key), key)
    }

    /// The key as PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> Result<String, String> {
        Ok(self
            .key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| e.to_string())?
            .to_string())
    }

    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, String> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| e.to_string())?;
        Self::from_parts(kid.to_string(), key)
    }

    fn from_parts(kid: String, key: ed25519_dalek::SigningKey) -> Result<Self, String> {
        let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        Ok(Self { kid, key, encoding })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn to_pkcs8(&self) -> Result<Vec<u8>, String> {
        Ok(self
            .key
            .to_pkcs8_der()
            .map_err(|e| e.to_string())?
            .as_bytes()
            .to_vec())
    }

    /// The public half as a JWK (RFC 8037 OKP key).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes()),
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        self.sign_any(claims)
    }

    /// Signs any claims set (tests mint what a key holder could).
    pub(crate) fn sign_any<T: serde::Serialize>(&self, claims: &T) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        crate::provider::install();
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }
}

/// The JWKS document listing the public halves of `keys`.
pub fn jwks_json(keys: &[SigningKey]) -> String {
    serde_json::json!({ "keys": keys.iter().map(SigningKey::jwk).collect::<Vec<_>>() }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_kid() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.jwk(), key.jwk());
    }

    #[test]
    fn a_key_made_by_openssl_loads() {
        // `openssl genpkey -algorithm ed25519` (a throwaway test key).
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKCOfdY6G4Bk46viputeZSYEHByoEaDDcOyvhL7KqSOb\n-----END PRIVATE KEY-----\n";
        assert!(SigningKey::from_pkcs8_pem(pem).is_ok());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let e = SigningKey::from_pkcs8_pem("hello").unwrap_err();
        assert!(e.contains("Ed25519 PKCS#8 PEM"), "{e}");
    }
}
