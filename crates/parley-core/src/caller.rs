//! Whom a storage call acts for, explicit at every call site.
//!
//! A user's calls are authorized against that user by storage (the one
//! membership check). `Caller::System` is Parley itself (fanout resolving
//! the recipients of a stored event) and skips that check, so it is never
//! derived from anything a client sends: the edge (gateway, and later the
//! integrations API) builds `Caller::User` from an authenticated session,
//! and the architecture test (services/parley/tests/architecture.rs) fails
//! if code outside the services allowed to act as the system names
//! `Caller::System`.

use crate::ids::validate_id;
use crate::{ServiceError, ServiceResult};
use parley_proto::v1 as pb;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A signed-in user (a validated id).
    User(String),
    /// Parley's own services, acting for no user.
    System,
}

impl Caller {
    /// A user's caller; refuses an id that is not a valid user id (an
    /// empty one in particular, which must never mean "no check").
    pub fn user(id: impl Into<String>) -> ServiceResult<Self> {
        let id = id.into();
        validate_id("caller user_id", &id)?;
        Ok(Self::User(id))
    }

    /// The user this call acts for, or an error for calls that need one.
    pub fn user_id(&self) -> ServiceResult<&str> {
        match self {
            Self::User(id) => Ok(id),
            Self::System => Err(ServiceError::PermissionDenied(
                "this call acts for a user, not the system".into(),
            )),
        }
    }

    pub fn to_proto(&self) -> Option<pb::Caller> {
        let kind = match self {
            Self::User(id) => pb::caller::Kind::UserId(id.clone()),
            Self::System => pb::caller::Kind::System(pb::Empty {}),
        };
        Some(pb::Caller { kind: Some(kind) })
    }

    /// The caller of a request as it arrived (locally or over gRPC).
    pub fn from_proto(caller: Option<&pb::Caller>) -> ServiceResult<Self> {
        match caller.and_then(|c| c.kind.as_ref()) {
            Some(pb::caller::Kind::UserId(id)) => Self::user(id.clone()),
            Some(pb::caller::Kind::System(_)) => Ok(Self::System),
            None => Err(ServiceError::InvalidArgument("caller is required".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_user_is_an_error_never_the_system() {
        assert!(Caller::from_proto(None).is_err());
        assert!(Caller::from_proto(Some(&pb::Caller { kind: None })).is_err());
        let empty = pb::Caller {
            kind: Some(pb::caller::Kind::UserId(String::new())),
        };
        assert!(Caller::from_proto(Some(&empty)).is_err());
        assert!(Caller::user("a.b").is_err());
    }

    #[test]
    fn round_trips_through_the_wire_type() {
        for c in [Caller::user("alice").unwrap(), Caller::System] {
            assert_eq!(Caller::from_proto(c.to_proto().as_ref()).unwrap(), c);
        }
        assert!(Caller::System.user_id().is_err());
        assert_eq!(Caller::user("bob").unwrap().user_id().unwrap(), "bob");
    }
}
