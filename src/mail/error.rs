//! The error type of the mail module: what can fail while storing inbound mail (ingest,
//! import), queuing and sending replies, and reading or changing channels. A message that is
//! not usable mail is not an error but an [`Outcome::Rejected`](super::ingest::Outcome) with
//! its reason; an SMTP server's refusal stays on the outbox row. The web layer maps this type
//! to pages and JSON in one place (`crate::web::error`).

use crate::crypto::SealError;

/// Everything that can go wrong in the mail module.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The database failed or refused a statement (the text may quote a row: log it only).
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The conversation (of a reply, or of a failed reply to retry) is not the organization's.
    #[error("conversation not found")]
    ConversationNotFound,
    /// A channel's sealed password could not be opened with the instance key.
    #[error("a channel password cannot be opened: {0}")]
    Sealed(#[from] SealError),
    /// Rows written in this transaction could not be read back (a broken invariant).
    #[error("{0} not found after insert")]
    MissingAfterInsert(String),
    /// The attachment store failed (writing an agent's file, reading one to send it).
    #[error(transparent)]
    Blob(#[from] super::blobs::BlobError),
    /// A parsing or reading task on another thread panicked or was cancelled.
    #[error("a mail task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}
