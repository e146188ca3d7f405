//! Why a message was refused. The `Display` texts are shown to merchants and written to logs, so
//! they describe the problem without repeating any address or text from the message.

/// The reason a raw message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// Zero bytes, or only whitespace.
    #[error("the message is empty")]
    Empty,
    /// The raw message is larger than [`super::Limits::max_message_bytes`].
    #[error("the message is {bytes} bytes, larger than the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    /// The input has no RFC 5322 header block (binary data, a JSON file, …). The string is a
    /// short, fixed explanation written by this crate, never text from the input.
    #[error("this is not an email message: {0}")]
    NotAMessage(String),
    /// Neither From, Sender nor Return-Path holds a usable address.
    #[error("the message has no usable sender address (no valid From, Sender or Return-Path)")]
    NoSender,
}
