//! The error type of retention: why a run (or its preview) stopped. Each variant has a stable
//! code for the run history and the audit log; the web layer maps the type to pages in one
//! place (`crate::web::error`).

use super::lock::LockError;
use crate::search::indexer::IndexerError;

/// Everything that can stop a retention run.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// Another run of this organization holds its lock.
    #[error("a retention run of this organization is in progress")]
    AlreadyRunning,
    /// The database failed (the text may quote a row: it only goes to the server log).
    #[error("retention run failed: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The run lock file could not be opened or locked.
    #[error("retention run: the run lock failed: {0}")]
    Lock(std::io::Error),
    /// The search queue was not drained or the index not purged after the run.
    #[error("retention run: the search index was not purged: {0}")]
    Index(#[source] IndexerError),
}

impl RetentionError {
    /// The stable code kept in the run history and the audit log (the details, which may
    /// quote database values, only go to the server log).
    pub fn code(&self) -> &'static str {
        match self {
            RetentionError::AlreadyRunning => "already_running",
            RetentionError::Database(_) => "database",
            RetentionError::Lock(_) => "lock",
            RetentionError::Index(_) => "search_index",
        }
    }
}

impl From<LockError> for RetentionError {
    fn from(error: LockError) -> Self {
        match error {
            LockError::Held => RetentionError::AlreadyRunning,
            LockError::Database(error) => RetentionError::Database(error),
        }
    }
}
