//! Inbound mail parsing: turns raw RFC 5322 bytes into a [`ParsedMail`], the shape Lethe
//! stores, or a [`RejectReason`] that can be shown to a person without leaking personal data.
//!
//! The parsing itself is done by `mail-parser`; this crate owns the decisions on top of it: what
//! is rejected, how addresses are checked, which HTML survives, how auto-replies and bulk mail
//! are recognised, how mbox files are split and how conversation tokens appear in subjects.

mod address;
mod attachment;
mod error;
mod html;
mod html_rewrite;
mod kind;
mod mbox;
mod message;
mod subject;
mod token;

pub use address::Mailbox;
pub use attachment::{Attachment, sanitize_filename as clean_filename};
pub use error::RejectReason;
pub use html::{sanitize_html, unpark_remote_images};
pub use html_rewrite::rewrite_html_text;
pub use kind::MailKind;
pub use mbox::{MboxItem, MboxReader, split_mbox};
pub use message::{ParsedMail, parse};
pub use subject::strip_subject_prefixes;
pub use token::{
    TOKEN_ALPHABET, TOKEN_LEN, conversation_token_in, format_token_tag, is_valid_token,
};

/// Size limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole raw messages above this size are rejected with [`RejectReason::TooLarge`].
    pub max_message_bytes: usize,
    /// Decoded attachments above this size are dropped and replaced by a note.
    pub max_attachment_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 25 * 1024 * 1024,
            max_attachment_bytes: 20 * 1024 * 1024,
        }
    }
}
