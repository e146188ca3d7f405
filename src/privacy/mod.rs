//! Privacy: the PII detector that anonymization is built on (`lethe privacy redact` shows
//! admins what it catches), and the data subject rights:
//!
//! - [`erase`]: the right to be forgotten, and its page (`/customers/{id}/erase`);
//! - [`receipt`]: the deletion receipt's page (`/privacy/receipts/{id}`);
//! - [`export`]: access and portability, one ZIP with a documented JSON file and the
//!   attachments;
//! - [`rectify`]: correcting the customer record (name, addresses, phone, postal address);
//! - [`restrict`]: restriction of processing, and what it hides and refuses;
//! - [`objection`]: recording an objection with its date, text and effects (reports and
//!   assist, non-essential processing, anonymizing closed conversations), and lifting them;
//! - [`verify`]: verifying a requester by a one-time link to an address on the record, and
//!   the override an unverified export or erasure asks for;
//! - [`merge`]: merging two customer records of one organization;
//! - [`purposes`]: the purposes of processing and their legal bases, set at
//!   `/settings/privacy` ([`purposes_page`]) and given in every export;
//! - [`requests`]: the register of requests and their deadlines, and its page
//!   (`/privacy/requests`).
//!
//! Each module serves its own page or form; the customer page itself is
//! `crate::inbox::customer_page`.

pub mod answer;
pub mod erase;
pub mod export;
pub mod merge;
pub mod objection;
pub mod pii;
pub mod purposes;
pub mod purposes_page;
pub mod receipt;
pub mod rectify;
pub mod requests;
pub mod restrict;
pub mod verify;

/// Why an export or erasure failed. Messages carry no personal data.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("no such customer in this organization")]
    NotFound,
    /// Erasure refused: the customer or one of their conversations is on legal hold.
    #[error("{}", erase::describe_holds(.0))]
    OnHold(Vec<erase::Hold>),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Blob(#[from] crate::mail::blobs::BlobError),
    #[error(transparent)]
    Indexer(#[from] crate::search::indexer::IndexerError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error("{0}")]
    Internal(String),
}

impl PrivacyError {
    pub fn internal(context: impl std::fmt::Display) -> Self {
        Self::Internal(context.to_string())
    }
}
