//! Credentials in the bus URL: `nats://user:password@host:4222` (or
//! `nats://token@host:4222`). async-nats does not read a URL's user info,
//! so it is split off here, decoded, and passed as connect options; the URL
//! kept for logs and `Debug` has none.

use parley_ports::BusError;

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The URL without user info.
    pub url: String,
    pub auth: Auth,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    None,
    UserPassword(String, String),
    Token(String),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match self.auth {
            Auth::None => "none",
            Auth::UserPassword(..) => "user and password",
            Auth::Token(_) => "token",
        };
        write!(f, "{} (auth: {auth})", self.url)
    }
}

fn decoded(s: &str) -> Result<String, BusError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| BusError::Unavailable("the bus URL's credentials are not UTF-8".into()))
}

pub(crate) fn parse(raw: &str) -> Result<Target, BusError> {
    // Never echo the URL itself: it may hold a password.
    let mut url = url::Url::parse(raw)
        .map_err(|e| BusError::Unavailable(format!("the bus URL does not parse: {e}")))?;
    let user = decoded(url.username())?;
    let password = url.password().map(decoded).transpose()?;
    let auth = match (user.is_empty(), password) {
        (true, None) => Auth::None,
        (false, Some(p)) => Auth::UserPassword(user, p),
        (false, None) => Auth::Token(user),
        (true, Some(p)) => Auth::Token(p),
    };
    let bad = |_| BusError::Unavailable("the bus URL cannot hold credentials".into());
    url.set_username("").map_err(bad)?;
    url.set_password(None).map_err(bad)?;
    Ok(Target {
        url: url.to_string().trim_end_matches('/').to_string(),
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_split_off_and_decoded() {
        let t = parse("nats://parley:p%40ss%3Aword@nats:4222").unwrap();
        assert_eq!(t.url, "nats://nats:4222");
        assert!(t.auth == Auth::UserPassword("parley".into(), "p@ss:word".into()));
        assert!(!format!("{t:?}").contains("p@ss"));
        assert!(parse("nats://s3cret@nats:4222").unwrap().auth == Auth::Token("s3cret".into()));
        let plain = parse("nats://127.0.0.1:4222").unwrap();
        assert!(plain.auth == Auth::None);
        assert_eq!(plain.url, "nats://127.0.0.1:4222");
        let err = parse("nats://u:pw@[bad").unwrap_err().to_string();
        assert!(!err.contains("pw"), "{err}");
    }
}
