use parley_core::ServiceError;

pub type StoreResult<T> = Result<T, StoreError>;

/// Errors of any backend behind a port.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("backend error: {0}")]
    Backend(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists(m) => ServiceError::AlreadyExists(m),
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}
