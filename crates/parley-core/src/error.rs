//! The error every service API returns, and its one mapping to and from
//! `tonic::Status` (used by every gRPC server and remote client).

use tonic::{Code, Status};

pub type ServiceResult<T> = Result<T, ServiceError>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// The stable error code of the client protocol (docs/protocol.md).
    pub fn protocol_code(&self) -> &'static str {
        match self {
            ServiceError::InvalidArgument(_) => "invalid_argument",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::PermissionDenied(_) => "forbidden",
            ServiceError::Unauthenticated(_) => "unauthenticated",
            ServiceError::AlreadyExists(_) => "already_exists",
            ServiceError::ResourceExhausted(_) => "rate_limited",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Internal(_) => "internal",
        }
    }

    /// The message safe to show a client: internal details stay in logs.
    pub fn public_message(&self) -> String {
        match self {
            ServiceError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidArgument(m) => Status::invalid_argument(m),
            ServiceError::NotFound(m) => Status::not_found(m),
            ServiceError::PermissionDenied(m) => Status::permission_denied(m),
            ServiceError::Unauthenticated(m) => Status::unauthenticated(m),
            ServiceError::AlreadyExists(m) => Status::already_exists(m),
            ServiceError::ResourceExhausted(m) => Status::resource_exhausted(m),
            ServiceError::Unavailable(m) => Status::unavailable(m),
            ServiceError::Internal(m) => Status::internal(m),
        }
    }
}

impl From<Status> for ServiceError {
    fn from(s: Status) -> Self {
        let m = s.message().to_string();
        match s.code() {
            Code::InvalidArgument | Code::OutOfRange => ServiceError::InvalidArgument(m),
            Code::NotFound => ServiceError::NotFound(m),
            Code::PermissionDenied => ServiceError::PermissionDenied(m),
            Code::Unauthenticated => ServiceError::Unauthenticated(m),
            Code::AlreadyExists => ServiceError::AlreadyExists(m),
            Code::ResourceExhausted => ServiceError::ResourceExhausted(m),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => {
                ServiceError::Unavailable(m)
            }
            _ => ServiceError::Internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_round_trips() {
        let all = [
            ServiceError::InvalidArgument("a".into()),
            ServiceError::NotFound("b".into()),
            ServiceError::PermissionDenied("c".into()),
            ServiceError::Unauthenticated("d".into()),
            ServiceError::AlreadyExists("e".into()),
            ServiceError::ResourceExhausted("f".into()),
            ServiceError::Unavailable("g".into()),
            ServiceError::Internal("h".into()),
        ];
        for e in all {
            assert_eq!(ServiceError::from(Status::from(e.clone())), e);
        }
    }
}
