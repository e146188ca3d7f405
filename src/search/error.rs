//! The error type of the search boundary.

use super::query::QueryError;

/// Everything that can go wrong in the search module.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text could not be understood; the message is meant for the agent.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Tantivy failed (I/O, corrupt index, lock held by another process, …).
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// Creating the index directory failed.
    #[error("cannot create the search index directory: {0}")]
    Io(#[from] std::io::Error),
    /// Another process (the running server, a command) owns the index: it holds the owner
    /// lock (`index/lethe-owner.lock`).
    #[error("another process (a running `lethe serve`?) writes the search index")]
    HeldElsewhere,
    /// A thread panicked while holding the index writer.
    #[error("the search index writer is unusable after a panic in another thread")]
    Poisoned,
}

impl SearchError {
    /// True when another process (the running server) holds the index: its owner lock, or
    /// (an older server) the writer's own lock.
    pub fn is_lock_held_elsewhere(&self) -> bool {
        matches!(
            self,
            SearchError::HeldElsewhere
                | SearchError::Tantivy(tantivy::TantivyError::LockFailure(..))
        )
    }
}
