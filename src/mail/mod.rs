//! Email: addresses, system mail (password resets, invitations) and, later, the customer
//! channels: inbound (IMAP, HTTP, import), MIME parsing, threading, the outbox and SMTP.

pub mod address;
pub mod blobs;
pub mod channel;
pub mod channels;
pub mod compose;
pub mod egress;
mod error;
pub mod format;
pub mod imap;
pub mod import;
pub mod inbound_http;
pub mod ingest;
pub mod oauth;
pub mod outbound;
pub mod outgoing;
pub mod parse;
pub mod signature;
pub mod system;

pub use address::EmailAddress;
pub use error::MailError;
