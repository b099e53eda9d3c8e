//! Why a store call failed: a domain rule (a 4xx for the client) or the backend (a 5xx). A
//! backend error keeps its cause, so the one place that logs it can print the whole chain.

use std::sync::Arc;

use qualify_core::DomainError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// An earlier request with the same idempotency key was rejected with this error.
    #[error("replayed: {0}")]
    Replayed(DomainError),
    /// The database cannot be reached or is busy: worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(Cause),
    #[error("database error: {0}")]
    Backend(Cause),
    /// A plan inserted a row whose random id is taken: the command plans again with another.
    #[error("a new row's id is taken")]
    Taken,
}

/// What went wrong in the backend: a message, and the error it came from when there is one
/// (reachable through [`std::error::Error::source`]).
#[derive(Debug, Clone)]
pub struct Cause {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Cause {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// `message`, caused by `source`.
    pub fn of(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl StoreError {
    /// A backend fault described by `message` alone.
    pub fn backend(message: impl Into<String>) -> Self {
        StoreError::Backend(Cause::new(message))
    }

    /// The database is unavailable, as `message` says.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError::Unavailable(Cause::new(message))
    }
}

impl From<qualify_core::ErrorKind> for StoreError {
    fn from(k: qualify_core::ErrorKind) -> Self {
        StoreError::Domain(k.into())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(Cause::of("PostgreSQL is not reachable", e))
            }
            other => StoreError::Backend(Cause::of("a PostgreSQL statement failed", other)),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull,
            ) => StoreError::Unavailable(Cause::of("the SQLite database is not available", e)),
            _ => StoreError::Backend(Cause::of("an SQLite statement failed", e)),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_error_keeps_its_cause() {
        let e = StoreError::from(rusqlite::Error::InvalidQuery);
        assert_eq!(e.to_string(), "database error: an SQLite statement failed");
        let StoreError::Backend(cause) = &e else {
            panic!("{e:?}")
        };
        let source = std::error::Error::source(cause).expect("the cause");
        assert!(
            source.to_string().contains("Query is not read-only"),
            "{source}"
        );
    }
}
