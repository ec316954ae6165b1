//! What a new password must be: long enough, not too long, and not easy to
//! guess. Guessability is zxcvbn's estimate, which knows the 30,000 most
//! common (breached) passwords, common names and words, keyboard patterns,
//! dates, repeats and l33t spellings, all compiled into the binary; the
//! username counts as a known word. NIST 800-63B's advice: no composition
//! rules, a blocklist of common passwords.

use crate::passwords::{MAX_PASSWORD, MIN_PASSWORD};
use parley_core::{ServiceError, ServiceResult};

/// zxcvbn looks at this many characters (its matching grows fast with
/// length; a longer password is not easier to guess for its tail).
const CHECKED_CHARS: usize = 100;

/// Length only: what a login checks (an old password stays usable).
pub(crate) fn check_length(p: &str) -> ServiceResult<()> {
    if p.len() < MIN_PASSWORD || p.len() > MAX_PASSWORD {
        return Err(ServiceError::InvalidArgument(format!(
            "password must be {MIN_PASSWORD}-{MAX_PASSWORD} bytes"
        )));
    }
    Ok(())
}

/// A new password: its length, then a guessability score of at least
/// `min_score` (0-4; 0 checks nothing more).
pub(crate) fn check_new(p: &str, username: &str, min_score: u8) -> ServiceResult<()> {
    check_length(p)?;
    if min_score == 0 {
        return Ok(());
    }
    let head: String = p.chars().take(CHECKED_CHARS).collect();
    let estimate = zxcvbn::zxcvbn(&head, &[username]);
    if u8::from(estimate.score()) >= min_score {
        return Ok(());
    }
    let mut why = String::from("password is too easy to guess");
    if let Some(f) = estimate.feedback() {
        if let Some(w) = f.warning() {
            why += &format!(": {w}");
        }
        if let Some(s) = f.suggestions().first() {
            why += &format!(" ({s})");
        }
    }
    Err(ServiceError::InvalidArgument(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_patterned_passwords_are_refused_with_a_reason() {
        for weak in [
            "password1",
            "P@ssw0rd!",
            "qwertyuiop",
            "iloveyou123",
            "trustno1trustno1",
        ] {
            let e = check_new(weak, "ann", 2).unwrap_err().to_string();
            assert!(e.contains("too easy to guess"), "{weak}: {e}");
        }
        // The username is a known word.
        assert!(check_new("gwendolyn2025", "gwendolyn", 2).is_err());
    }

    #[test]
    fn passphrases_pass_and_the_policy_can_be_switched_off() {
        check_new("correct horse battery", "ann", 2).unwrap();
        check_new("mauve kettle on the fjord", "ann", 3).unwrap();
        check_new("password1", "ann", 0).unwrap();
        assert!(
            check_new("short", "ann", 0).is_err(),
            "length always counts"
        );
    }
}
