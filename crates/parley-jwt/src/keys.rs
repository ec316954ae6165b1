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

impl SigningKey {
    /// A fresh random key; its kid is derived from the public key.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let kid = URL_SAFE_NO_PAD.encode(&key.verifying_key().to_bytes()[..12]);
        Self::from_parts(kid, key)
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }
}

/// The JWKS document listing the public halves of `keys`.
pub fn jwks_json(keys: &[SigningKey]) -> String {
    serde_json::json!({ "keys": keys.iter().map(SigningKey::jwk).collect::<Vec<_>>() }).to_string()
}
