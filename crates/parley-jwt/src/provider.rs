//! The cryptography behind jsonwebtoken: Ed25519 only, on ed25519-dalek.
//!
//! jsonwebtoken's bundled `rust_crypto` provider brings every algorithm it
//! supports, RSA included (the `rsa` crate with RUSTSEC-2023-0071, a timing
//! side channel). Parley pins one algorithm (EdDSA), so it installs this
//! provider instead: any other algorithm is refused here as well as by the
//! verifier's header check, and no RSA, ECDSA or HMAC code is linked in.

use ed25519_dalek::Signature;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{Error, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use std::sync::Once;

struct EdSigner(ed25519_dalek::SigningKey);

impl Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdVerifier(ed25519_dalek::VerifyingKey);

impl Verifier<Vec<u8>> for EdVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), Error> {
        let signature = Signature::from_slice(signature)?;
        self.0.verify_strict(msg, &signature)
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *alg != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let key = ed25519_dalek::SigningKey::from_pkcs8_der(key.as_bytes())
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdSigner(key)))
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let bytes: &[u8; 32] = key
        .try_get_as_bytes()?
        .try_into()
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdVerifier(key)))
}

/// JWKs are built by hand (`SigningKey::jwk`), so the JWK helpers are not needed.
static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs the provider for this process (before the first sign or verify).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only this crate installs one; if someone else did first, theirs
        // is kept and the header check still pins EdDSA.
        let _ = EDDSA_ONLY.install_default();
    });
}
