//! The entry point: raw bytes in, [`ParsedMail`] or [`RejectReason`] out. Owns the rejection
//! rules, header extraction (ids, subject, addresses, date) and the choice of text and HTML body.

use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, Message, MessageParser, PartType};
use sha2::{Digest, Sha256};

use super::address::{Mailbox, mailboxes, normalize_address};
use super::attachment::{self, Attachment};
use super::html::sanitize_html;
use super::kind::{self, MailKind};
use super::token::conversation_token_in;
use super::{Limits, RejectReason};

/// An inbound message in the shape Lethe stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMail {
    /// Without `<>`. When missing: `synthetic-<first 32 hex chars of SHA-256 of the raw
    /// bytes>@lethe.invalid`, stable for the same bytes.
    pub message_id: String,
    /// Message ids without `<>`.
    pub in_reply_to: Vec<String>,
    /// Message ids without `<>`.
    pub references: Vec<String>,
    /// Decoded (RFC 2047); empty if none.
    pub subject: String,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub date: Option<DateTime<Utc>>,
    /// The text/plain body, or text derived from the HTML body if there is no text part.
    pub text: String,
    /// The HTML body, sanitized with remote images parked (see [`sanitize_html`]).
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Problems worth showing to the agent (dropped attachments, undecodable parts).
    pub notes: Vec<String>,
    pub kind: MailKind,
    /// The token from a `[#XXXXX]` subject tag.
    pub conversation_token: Option<String>,
}

/// Parses one raw message. Lenient like a mail client: anything with a header block and a
/// sender is accepted, problems become [`ParsedMail::notes`].
pub fn parse(raw: &[u8], limits: &Limits) -> Result<ParsedMail, RejectReason> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(RejectReason::Empty);
    }
    if raw.len() > limits.max_message_bytes {
        return Err(RejectReason::TooLarge {
            bytes: raw.len(),
            limit: limits.max_message_bytes,
        });
    }
    let content = skip_mbox_from_line(raw);
    check_header_block(content)?;
    let message = MessageParser::default()
        .parse(content)
        .filter(|m| !m.root_part().headers.is_empty())
        .ok_or_else(|| RejectReason::NotAMessage("no header fields were found".into()))?;
    let from = sender(&message).ok_or(RejectReason::NoSender)?;

    let mut notes = Vec::new();
    let subject = message.subject().unwrap_or_default().trim().to_owned();
    let (text, html, body_part) = bodies(&message, &mut notes);
    let attachments = attachment::collect(&message, limits, body_part, &mut notes);
    if message.parts.iter().any(|p| {
        p.is_encoding_problem && !matches!(p.body, PartType::Binary(_) | PartType::InlineBinary(_))
    }) {
        notes.push("A part could not be decoded; it is shown as well as possible".to_owned());
    }
    if text.contains('\u{FFFD}') {
        notes.push("Some characters could not be decoded and were replaced".to_owned());
    }
    notes.dedup();

    Ok(ParsedMail {
        message_id: message_id(&message, raw),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        conversation_token: conversation_token_in(&subject),
        kind: kind::classify(&message, &from),
        subject,
        to: mailboxes(message.to()),
        cc: mailboxes(message.cc()),
        reply_to: mailboxes(message.reply_to()).into_iter().next(),
        date: date(&message),
        from,
        text,
        html,
        attachments,
        notes,
    })
}

/// Tolerates a leading mbox `From ` line (files saved from mbox-based clients).
fn skip_mbox_from_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        let end = raw
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| i + 1);
        &raw[end..]
    } else {
        raw
    }
}

/// The first line must be a header field: a name of letters, digits, `-`, `_` or `.`, then a
/// colon. This turns away binary data, JSON, HTML and other files before mail-parser, which
/// would accept almost anything.
fn check_header_block(content: &[u8]) -> Result<(), RejectReason> {
    let start = content
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(content.len());
    let first = &content[start..];
    let name_len = first
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .count();
    let after = first[name_len..]
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map(|i| first[name_len + i]);
    if name_len == 0 || name_len > 76 || after != Some(b':') {
        return Err(RejectReason::NotAMessage(
            "it does not start with a header field".into(),
        ));
    }
    Ok(())
}

/// From, then Sender, then Return-Path: the first syntactically valid address.
fn sender(message: &Message<'_>) -> Option<Mailbox> {
    mailboxes(message.from())
        .into_iter()
        .next()
        .or_else(|| mailboxes(message.sender()).into_iter().next())
        .or_else(|| {
            let rp = match message.header("Return-Path")? {
                HeaderValue::Text(t) => t.to_string(),
                HeaderValue::TextList(l) => l.last()?.to_string(),
                HeaderValue::Address(a) => a.first()?.address()?.to_owned(),
                _ => return None,
            };
            let address = normalize_address(&rp)?;
            Some(Mailbox {
                name: None,
                address,
            })
        })
}

fn message_id(message: &Message<'_>, raw: &[u8]) -> String {
    message
        .message_id()
        .map(strip_angle)
        .filter(|id| !id.is_empty() && !id.chars().any(char::is_whitespace))
        .map(str::to_owned)
        .unwrap_or_else(|| synthetic_message_id(raw))
}

/// `synthetic-<32 hex chars>@lethe.invalid` from the SHA-256 of the raw bytes.
pub(crate) fn synthetic_message_id(raw: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(raw));
    format!("synthetic-{}@lethe.invalid", &digest[..32])
}

fn strip_angle(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id)
        .trim()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(strip_angle)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

fn date(message: &Message<'_>) -> Option<DateTime<Utc>> {
    let d = message.date().filter(|d| d.is_valid())?;
    DateTime::from_timestamp(d.to_timestamp(), 0)
}

/// The text body (all text parts joined; HTML converted when there is no text alternative) and
/// the sanitized HTML body (only when the message really has an HTML part).
///
/// When mail-parser found no body because the MIME structure is broken (e.g. a multipart
/// boundary that never occurs, which it files as an attachment), the root part's text is used
/// as the body; its id is returned so it is not stored as an attachment as well.
fn bodies(message: &Message<'_>, notes: &mut Vec<String>) -> (String, Option<String>, Option<u32>) {
    if message.text_body_count() == 0
        && message.html_body_count() == 0
        && let Some(PartType::Text(text)) = message.part(0).map(|p| &p.body)
    {
        notes.push("The message structure is broken; it is shown as plain text".to_owned());
        return (text.trim_end().to_owned(), None, Some(0));
    }
    let texts: Vec<String> = (0..message.text_body_count())
        .filter_map(|i| message.body_text(i))
        .map(|t| t.trim_end().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let has_html = message
        .html_bodies()
        .any(|p| matches!(p.body, PartType::Html(_)));
    let html = has_html.then(|| {
        let joined: Vec<String> = (0..message.html_body_count())
            .filter_map(|i| message.body_html(i))
            .map(|h| h.into_owned())
            .collect();
        sanitize_html(&joined.join("\n"), false)
    });
    (texts.join("\n\n"), html, None)
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
