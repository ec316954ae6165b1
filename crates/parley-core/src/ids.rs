//! Identifier validation. Ids become NATS subject tokens and Redis key parts
//! in split mode, so `.`, `*`, `>`, whitespace and anything outside a small
//! alphabet are rejected at the edge, before any backend sees them.

use crate::ServiceError;
use sha2::{Digest, Sha256};

/// Maximum length of any identifier.
pub const MAX_ID_LEN: usize = 64;

/// Accepts 1..=64 characters of `[A-Za-z0-9_-]`.
pub fn validate_id(what: &str, id: &str) -> Result<(), ServiceError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ServiceError::InvalidArgument(format!(
            "{what} must be 1-{MAX_ID_LEN} characters"
        )));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ServiceError::InvalidArgument(format!(
            "{what} may only contain A-Z, a-z, 0-9, '_' and '-'"
        )));
    }
    Ok(())
}

/// Usernames: 3..=32 characters of `[a-z0-9_-]` (lowercase, so that lookups
/// are unambiguous).
pub fn validate_username(name: &str) -> Result<(), ServiceError> {
    let ok_len = (3..=32).contains(&name.len());
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(
            "username must be 3-32 characters of a-z, 0-9, '_' and '-'".into(),
        ))
    }
}

/// The id of the direct conversation between two users: deterministic, so
/// "start a DM" is idempotent and both sides land in the same conversation.
pub fn direct_id(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    let mut h = Sha256::new();
    h.update(x.as_bytes());
    h.update([0]);
    h.update(y.as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("dm-{hex}")
}

/// Whether `id` is a direct conversation's (`direct_id` makes them; group
/// ids are UUIDs and never start so).
pub fn is_direct_id(id: &str) -> bool {
    id.starts_with("dm-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_subject_and_key_metacharacters() {
        for bad in ["a.b", "a*", ">", "a b", "", "a\nb", "ü", "a:b", "a/b"] {
            assert!(validate_id("id", bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_id("id", &"a".repeat(65)).is_err());
        for good in ["a", "A-z_09", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"] {
            assert!(validate_id("id", good).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn usernames_are_lowercase_tokens() {
        assert!(validate_username("alice_1").is_ok());
        for bad in ["Al", "Alice", "al.ice", "al ice", &"a".repeat(33)] {
            assert!(validate_username(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn valid_ids_never_contain_separators(s in "\\PC{0,80}") {
            if validate_id("id", &s).is_ok() {
                proptest::prop_assert!(!s.contains(['.', '*', '>', ' ', ':', '/']));
                proptest::prop_assert!(!s.is_empty() && s.len() <= MAX_ID_LEN);
            }
        }
    }
}
