use parley_ports::StoreError;
use scylla::errors::{
    DbError, ExecutionError, NewSessionError, NextRowError, PagerExecutionError,
    RequestAttemptError, UseKeyspaceError,
};

/// Errors of the ScyllaDB store.
#[derive(Debug, thiserror::Error)]
pub enum ScyllaError {
    #[error("ScyllaDB configuration: {0}")]
    Config(String),
    #[error("connecting to ScyllaDB: {0}")]
    Connect(Box<NewSessionError>),
    #[error("preparing a statement: {0}")]
    Prepare(String),
    #[error("ScyllaDB request failed: {0}")]
    Execution(Box<ExecutionError>),
    #[error("ScyllaDB paged read failed: {0}")]
    Pager(Box<PagerExecutionError>),
    #[error("ScyllaDB paged read failed: {0}")]
    NextRow(Box<NextRowError>),
    #[error("switching keyspace: {0}")]
    UseKeyspace(Box<UseKeyspaceError>),
    #[error("unexpected ScyllaDB result: {0}")]
    Decode(String),
    #[error("value out of range: {0}")]
    Range(String),
    #[error(
        "the database schema is at version {found}; this binary needs {needed}: run `parley migrate`"
    )]
    SchemaBehind { found: i32, needed: i32 },
}

impl From<ScyllaError> for StoreError {
    fn from(e: ScyllaError) -> Self {
        match e {
            ScyllaError::Execution(ref x) if is_our_bug(x) => StoreError::Backend(e.to_string()),
            // The cluster is unreachable, overloaded or timed out: retryable.
            ScyllaError::Connect(_)
            | ScyllaError::Execution(_)
            | ScyllaError::Pager(_)
            | ScyllaError::NextRow(_) => StoreError::Unavailable(e.to_string()),
            ScyllaError::Decode(_) => StoreError::Corrupt(e.to_string()),
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// Errors a retry cannot fix: a statement or value the server refuses.
fn is_our_bug(e: &ExecutionError) -> bool {
    match e {
        ExecutionError::BadQuery(_) | ExecutionError::PrepareError(_) => true,
        ExecutionError::LastAttemptError(RequestAttemptError::SerializationError(_)) => true,
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => matches!(
            db,
            DbError::SyntaxError | DbError::Invalid | DbError::ConfigError | DbError::Unauthorized
        ),
        _ => false,
    }
}

impl From<NewSessionError> for ScyllaError {
    fn from(e: NewSessionError) -> Self {
        ScyllaError::Connect(Box::new(e))
    }
}

impl From<ExecutionError> for ScyllaError {
    fn from(e: ExecutionError) -> Self {
        ScyllaError::Execution(Box::new(e))
    }
}

impl From<PagerExecutionError> for ScyllaError {
    fn from(e: PagerExecutionError) -> Self {
        ScyllaError::Pager(Box::new(e))
    }
}

impl From<NextRowError> for ScyllaError {
    fn from(e: NextRowError) -> Self {
        ScyllaError::NextRow(Box::new(e))
    }
}

impl From<UseKeyspaceError> for ScyllaError {
    fn from(e: UseKeyspaceError) -> Self {
        ScyllaError::UseKeyspace(Box::new(e))
    }
}
