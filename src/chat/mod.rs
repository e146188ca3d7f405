//! The chat channel (issue 16): a channel of kind `chat` set up at `/settings/channels`
//! ([`channel`], [`settings`], [`settings_page`]), whose widget script a shop embeds; the
//! visitor's endpoints under `/chat/` ([`routes`]) with what they do ([`visitor`]). Chat
//! conversations are ordinary conversations of that channel: the inbox, search, export,
//! erasure, anonymization, restriction and retention reach their messages as any other.
//! Agents answer from the conversation page (`mail::outbound::queue_reply_with` stores a
//! chat answer without mail when the visitor left no address); the widget gets it live.
//! Optionally the widget also offers the organization's public help-centre articles
//! ([`help`]).

pub mod blocks;
pub mod channel;
pub mod help;
pub mod hours;
pub mod routes;
pub mod settings;
pub mod settings_page;
pub mod visitor;

use actix_web::http::StatusCode;

/// Why a visitor's request was not done.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    #[error(transparent)]
    Mail(crate::mail::MailError),
    /// A visitor's file could not be stored (the attachment store failed).
    #[error("file not stored: {0}")]
    Store(crate::web::AppError),
    #[error("the visitor id is not 32 hexadecimal digits")]
    BadVisitor,
    #[error("the message is empty")]
    Empty,
    #[error("the message is too long")]
    TooLong,
    #[error("the name is too long or holds control characters")]
    BadName,
    #[error("the email address is not valid")]
    BadEmail,
    /// Outside business hours a channel that answers by mail needs an address.
    #[error("an email address is needed outside business hours")]
    EmailRequired,
    #[error("the request is not the JSON the widget sends")]
    BadRequest,
    /// The honeypot was filled, or the request was refused for another reason.
    #[error("refused")]
    Refused,
    /// A file of a type the chat does not take (images and PDF only).
    #[error("the file type is not taken")]
    FileType,
    /// The visitor was blocked (a chat of theirs was marked as spam).
    #[error("blocked")]
    Blocked,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
}

impl ChatError {
    pub fn from_mail(error: crate::mail::MailError) -> Self {
        match error {
            crate::mail::MailError::Database(error) => Self::Database(error),
            other => Self::Mail(other),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Database(_) | Self::Mail(_) | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Privacy(crate::privacy::PrivacyError::OnHold(_)) => StatusCode::CONFLICT,
            Self::Privacy(crate::privacy::PrivacyError::NotFound) => StatusCode::NOT_FOUND,
            Self::Privacy(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TooLong => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadVisitor
            | Self::Empty
            | Self::BadName
            | Self::BadEmail
            | Self::EmailRequired
            | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Refused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Blocked => StatusCode::FORBIDDEN,
            Self::FileType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// A stable word for the widget.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Database(_) | Self::Mail(_) | Self::Store(_) => "internal",
            Self::Privacy(crate::privacy::PrivacyError::OnHold(_)) => "on_hold",
            Self::Privacy(_) => "internal",
            Self::BadVisitor => "visitor",
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::BadName => "name",
            Self::BadEmail => "email",
            Self::EmailRequired => "email_required",
            Self::BadRequest => "bad_request",
            Self::Refused => "refused",
            Self::Blocked => "blocked",
            Self::FileType => "file_type",
            Self::TooManyRequests { .. } => "rate_limited",
        }
    }
}
