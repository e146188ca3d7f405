//! Attachments: which parts become stored attachments, their sanitized file names, and the
//! notes written when one is too large to keep.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::Limits;

/// A stored attachment or inline part (e.g. an image referenced by `cid:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Sanitized: no path separators or control characters; `attachment-N` when missing.
    pub filename: String,
    /// Lower-case `type/subtype`.
    pub content_type: String,
    /// The Content-ID without `<>`, as referenced by `cid:` URLs.
    pub content_id: Option<String>,
    /// Whether the part is meant to be shown inline rather than offered as a download.
    pub inline: bool,
    /// The decoded bytes.
    pub data: Vec<u8>,
}

/// Collects the message's attachments; oversized ones become notes instead.
/// `skip` is a part already used as the body (see `message::bodies`).
pub(crate) fn collect(
    message: &Message<'_>,
    limits: &Limits,
    skip: Option<u32>,
    notes: &mut Vec<String>,
) -> Vec<Attachment> {
    let mut attachments = Vec::new();
    let parts = message
        .attachments
        .iter()
        .filter(|&&id| Some(id) != skip)
        .filter_map(|&id| message.part(id));
    for (index, part) in parts.enumerate() {
        let filename = part
            .attachment_name()
            .and_then(sanitize_filename)
            .unwrap_or_else(|| format!("attachment-{}", index + 1));
        let data = part.contents();
        if part.is_encoding_problem {
            notes.push(format!(
                "Attachment '{filename}' could not be fully decoded"
            ));
        }
        if data.len() > limits.max_attachment_bytes {
            notes.push(format!(
                "Attachment '{filename}' ({}) exceeded the {} limit and was not stored",
                human_size(data.len()),
                human_size(limits.max_attachment_bytes)
            ));
            continue;
        }
        attachments.push(Attachment {
            content_type: content_type(part),
            content_id: content_id(part),
            inline: is_inline(part),
            filename,
            data: data.to_vec(),
        });
    }
    attachments
}

fn content_type(part: &MessagePart<'_>) -> String {
    if let Some(ct) = part.content_type() {
        let subtype = ct.subtype().unwrap_or("octet-stream");
        return format!("{}/{}", ct.ctype(), subtype).to_ascii_lowercase();
    }
    match part.body {
        PartType::Text(_) => "text/plain",
        PartType::Html(_) => "text/html",
        PartType::Message(_) => "message/rfc822",
        _ => "application/octet-stream",
    }
    .to_owned()
}

fn content_id(part: &MessagePart<'_>) -> Option<String> {
    let id = part.content_id()?.trim();
    let id = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id)
        .trim();
    (!id.is_empty()).then(|| id.to_owned())
}

fn is_inline(part: &MessagePart<'_>) -> bool {
    match part.content_disposition() {
        Some(cd) if cd.is_attachment() => false,
        Some(cd) if cd.is_inline() => true,
        _ => matches!(part.body, PartType::InlineBinary(_)) || part.content_id().is_some(),
    }
}

/// The last path component of a file name, without control characters or characters that are
/// special on common file systems; `None` if nothing usable is left.
pub fn sanitize_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || "<>:\"|?*".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').trim();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '_') {
        return None;
    }
    Some(truncate_keeping_extension(cleaned, 150))
}

fn truncate_keeping_extension(name: &str, max_chars: usize) -> String {
    if name.chars().count() <= max_chars {
        return name.to_owned();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.chars().count() <= 10 => (stem, Some(ext)),
        _ => (name, None),
    };
    let keep = max_chars - ext.map_or(0, |e| e.chars().count() + 1);
    let stem: String = stem.chars().take(keep).collect();
    match ext {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem,
    }
}

/// "31 MB", "20 MB", "512 KB", "12 bytes" (binary units, one decimal when not whole).
pub(crate) fn human_size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    let b = bytes as f64;
    let (value, unit) = if b >= MIB {
        (b / MIB, "MB")
    } else if b >= KIB {
        (b / KIB, "KB")
    } else {
        return format!("{bytes} bytes");
    };
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0} {unit}")
    } else {
        format!("{rounded:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_paths_and_specials() {
        assert_eq!(
            sanitize_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_filename("C:\\Users\\x\\invoice.pdf").as_deref(),
            Some("invoice.pdf")
        );
        assert_eq!(
            sanitize_filename("a\u{0}b<c>.txt").as_deref(),
            Some("a_b_c_.txt")
        );
        assert_eq!(sanitize_filename(" .. "), None);
        assert_eq!(sanitize_filename("dir/"), None);
        let long = format!("{}.pdf", "x".repeat(300));
        let short = sanitize_filename(&long).unwrap_or_default();
        assert_eq!(short.chars().count(), 150);
        assert!(short.ends_with(".pdf"));
    }

    #[test]
    fn sizes_are_human_readable() {
        assert_eq!(human_size(31 * 1024 * 1024), "31 MB");
        assert_eq!(human_size(20 * 1024 * 1024), "20 MB");
        assert_eq!(human_size(1536 * 1024), "1.5 MB");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(12), "12 bytes");
    }
}
