use parley_core::ServiceError;

pub type StoreResult<T> = Result<T, StoreError>;
pub type BusResult<T> = Result<T, BusError>;

/// Errors of the stores behind the timeline, auth and presence ports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("not found: {0}")]
    NotFound(String),
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
            StoreError::NotFound(m) => ServiceError::NotFound(m),
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// Errors of the event bus (`EventBus`).
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus cannot be reached right now; worth retrying.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// `EventBus::close` was called: this process is shutting down.
    #[error("bus closed")]
    Closed,
    /// A name that cannot become a subject or queue name (a caller's bug:
    /// ids are validated before they get here).
    #[error("invalid bus name: {0}")]
    InvalidName(String),
}

impl From<BusError> for ServiceError {
    fn from(e: BusError) -> Self {
        match e {
            BusError::Unavailable(m) => ServiceError::Unavailable(m),
            BusError::Closed => ServiceError::Unavailable("shutting down".into()),
            BusError::InvalidName(m) => ServiceError::InvalidArgument(m),
        }
    }
}
