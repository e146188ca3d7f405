//! Recognising mail that is not written by a person expecting an answer: auto-replies,
//! bulk/list mail and bounces, so Lethe never answers them automatically and can file them apart.

use mail_parser::{Message, MessagePart, MimeHeaders};

use super::address::Mailbox;

/// What kind of mail a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailKind {
    /// Written by a person.
    #[default]
    Normal,
    /// An automatic answer (out-of-office, "we received your mail", …).
    AutoReply,
    /// Newsletter, mailing list or other bulk mail.
    Bulk,
    /// A delivery status notification.
    Bounce,
}

/// Classifies a parsed message; bounce wins over auto-reply, which wins over bulk.
pub(crate) fn classify(message: &Message<'_>, from: &Mailbox) -> MailKind {
    if is_bounce(message, from) {
        MailKind::Bounce
    } else if is_auto_reply(message) {
        MailKind::AutoReply
    } else if is_bulk(message) {
        MailKind::Bulk
    } else {
        MailKind::Normal
    }
}

/// The raw value of the first top-level header with this name (case-insensitive), trimmed.
fn header<'m>(message: &'m Message<'_>, name: &str) -> Option<&'m str> {
    message
        .headers_raw()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn is_bounce(message: &Message<'_>, from: &Mailbox) -> bool {
    let local = from.local_part();
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        return true;
    }
    let root = message.root_part();
    let report = root.is_content_type("multipart", "report")
        && root
            .content_type()
            .and_then(|ct| ct.attribute("report-type"))
            .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    report || message.parts.iter().any(is_delivery_status)
}

fn is_delivery_status(part: &MessagePart<'_>) -> bool {
    part.is_content_type("message", "delivery-status")
        || part.is_content_type("message", "global-delivery-status")
}

fn is_auto_reply(message: &Message<'_>) -> bool {
    let auto_submitted = header(message, "Auto-Submitted")
        .is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("no"));
    let precedence_auto =
        header(message, "Precedence").is_some_and(|v| v.eq_ignore_ascii_case("auto_reply"));
    auto_submitted
        || precedence_auto
        || header(message, "X-Autoreply").is_some()
        || header(message, "X-Autorespond").is_some()
}

fn is_bulk(message: &Message<'_>) -> bool {
    let precedence = header(message, "Precedence").is_some_and(|v| {
        ["bulk", "junk", "list"]
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p))
    });
    precedence
        || header(message, "List-Id").is_some()
        || header(message, "List-Unsubscribe").is_some()
}
