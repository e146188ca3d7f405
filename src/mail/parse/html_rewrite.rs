//! Rewrites the words of a stored (already sanitized) HTML body without ever writing markup:
//! rectification and anonymization change names and addresses in messages, and an HTML body
//! must never take a replacement value as markup. Only text nodes and attribute values are
//! handed to the rewrite, decoded; what comes back is escaped, and the result is sanitized
//! again, so even a body that was not well formed cannot carry new tags out of a rewrite.

use std::borrow::Cow;

use super::html::{sanitize_html, unpark_remote_images};

/// Applies `rewrite` to every text node and attribute value of `html` (decoded, as a reader
/// sees them; `None` leaves one as it is) and returns the sanitized result, with remote images
/// still parked — or `None` when nothing was rewritten, so an untouched body is neither
/// sanitized again nor written back.
pub fn rewrite_html_text(html: &str, rewrite: impl Fn(&str) -> Option<String>) -> Option<String> {
    let changed = std::cell::Cell::new(false);
    let rewrite = |text: &str| match rewrite(text) {
        Some(new) => {
            changed.set(true);
            new
        }
        None => text.to_owned(),
    };
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let (text, from_tag) = rest.split_at(start);
        out.push_str(&escape_text(&rewrite(&decode(text))));
        let end = tag_end(from_tag);
        rewrite_tag(&from_tag[..end], &rewrite, &mut out);
        rest = &from_tag[end..];
    }
    out.push_str(&escape_text(&rewrite(&decode(rest))));
    if !changed.get() {
        return None;
    }
    // Parked images come back as sources for the sanitizer, which parks them again.
    Some(sanitize_html(&unpark_remote_images(&out), false))
}

/// The length of the tag at the start of `s` (which starts with `<`): up to the first `>`
/// outside a quoted attribute value, or the whole rest when it never closes.
fn tag_end(s: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    s.len()
}

/// Copies a tag, rewriting the values of its quoted attributes. Comments and declarations are
/// copied as they are (the sanitizer removes them anyway).
fn rewrite_tag(tag: &str, rewrite: &impl Fn(&str) -> String, out: &mut String) {
    if tag.starts_with("<!") || tag.starts_with("<?") || tag.starts_with("</") {
        out.push_str(tag);
        return;
    }
    let mut rest = tag;
    while let Some(eq) = rest.find('=') {
        let after = &rest[eq + 1..];
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            out.push_str(&rest[..=eq]);
            rest = after;
            continue;
        };
        let value_start = eq + 2;
        let Some(len) = rest[value_start..].find(quote) else {
            break;
        };
        out.push_str(&rest[..=eq]);
        out.push('"');
        let value = &rest[value_start..value_start + len];
        out.push_str(&escape_attribute(&rewrite(&decode(value))));
        out.push('"');
        rest = &rest[value_start + len + 1..];
    }
    out.push_str(rest);
}

/// Decodes the character references a serialized body holds (`&amp;` and friends, numeric
/// ones); anything else stays as written.
fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        match tail.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &tail[1..end];
            reference(name).map(|c| (c, end + 1))
        }) {
            Some((c, consumed)) => {
                out.push(c);
                rest = &tail[consumed..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

fn escape_attribute(value: &str) -> String {
    escape_text(value).replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace_all<'a>(from: &'a str, to: &'a str) -> impl Fn(&str) -> Option<String> + 'a {
        move |text: &str| text.contains(from).then(|| text.replace(from, to))
    }

    fn rewritten(html: &str, from: &str, to: &str) -> String {
        rewrite_html_text(html, replace_all(from, to)).expect("something was rewritten")
    }

    #[test]
    fn an_untouched_body_is_left_alone() {
        assert_eq!(
            rewrite_html_text("<p>nothing here</p>", replace_all("Ann", "Bo")),
            None
        );
    }

    #[test]
    fn a_replacement_with_markup_stays_text() {
        let html = "<p>Dear Ann Old, thanks.</p><p>Regards</p>";
        let evil =
            r#"<form action="/settings/team/invitations"><input name="email" value="x@evil.test">"#;

        let out = rewritten(html, "Ann Old", evil);

        assert!(!out.contains("<form") && !out.contains("<input"), "{out}");
        assert!(out.contains("&lt;form action="), "{out}");
        assert!(out.starts_with("<p>Dear &lt;form"), "{out}");
        assert!(out.ends_with("thanks.</p><p>Regards</p>"), "{out}");
    }

    #[test]
    fn tag_names_and_attribute_names_are_never_rewritten() {
        let html = r#"<p title="p">p <b>bold</b></p>"#;

        let out = rewritten(html, "p", "<script>");

        assert!(
            out.starts_with("<p title=\"&lt;script&gt;\">&lt;script&gt; <b>"),
            "{out}"
        );
        assert!(!out.contains("<script"), "{out}");
    }

    #[test]
    fn attribute_values_are_rewritten_and_cannot_break_out() {
        let html = r#"<a href="mailto:ann@old.test" rel="noopener noreferrer nofollow" target="_blank">ann@old.test</a>"#;

        let out = rewritten(html, "ann@old.test", "x@y.test\" onclick=\"steal()");

        let tag = &out[..out.find('>').unwrap_or(out.len())];
        assert!(!tag.contains("onclick=\""), "an attribute was added: {out}");
        assert!(
            tag.contains("mailto:x@y.test&quot; onclick=&quot;steal()"),
            "{out}"
        );
        assert!(!out.contains("ann@old.test"), "{out}");
    }

    #[test]
    fn escaped_text_is_matched_as_a_reader_sees_it() {
        let html = "<p>Smith &amp; Sons&nbsp;GmbH, 1 &lt; 2</p>";

        let out = rewritten(html, "Smith & Sons", "Jones");

        assert_eq!(out, "<p>Jones&nbsp;GmbH, 1 &lt; 2</p>");
    }

    #[test]
    fn parked_remote_images_stay_parked() {
        let html = sanitize_html(r#"<img src="https://t.example/a.png" alt="Ann">"#, false);

        let out = rewritten(&html, "Ann", "Bo");

        assert!(
            out.contains(r#"data-remote-src="https://t.example/a.png""#),
            "{out}"
        );
        assert!(out.contains(r#"alt="Bo""#), "{out}");
        assert!(!out.contains(" src="), "{out}");
    }

    #[test]
    fn broken_markup_is_sanitized_after_the_rewrite() {
        let out = rewritten("<p>hi <form action=x", "hi", "ho");

        assert!(!out.contains("<form"), "{out}");
        assert!(out.contains("ho"), "{out}");
    }
}
