//! Email: addresses, system mail (password resets, invitations) and, later, the customer
//! channels: inbound (IMAP, HTTP, import), MIME parsing, threading, the outbox and SMTP.

pub mod address;
pub mod system;

pub use address::EmailAddress;
