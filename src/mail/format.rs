//! Formatted replies: what an agent types is Markdown (bold, italics, lists, links, quotes),
//! sent as `multipart/alternative` — the typed text as the plain part, and HTML rendered with
//! pulldown-cmark and sanitized with ammonia to a small allow-list (no images, no scripts, no
//! styles, links to `http`, `https` and `mailto` only). Raw HTML in the Markdown is shown as
//! text, never passed on. The same HTML is stored on the message and shown on the
//! conversation page.
//!
//! Also the parts every reply shares: the signature under the text (`-- ` in the plain part)
//! and the quoted message being answered, `> `-prefixed in the plain part and in a
//! `gmail_quote` block in the HTML part (which mail clients fold away).

use std::collections::{HashMap, HashSet};

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, Options, Parser};

/// The tags a rendered reply may hold.
const TAGS: [&str; 22] = [
    "p",
    "br",
    "strong",
    "em",
    "del",
    "ul",
    "ol",
    "li",
    "a",
    "blockquote",
    "code",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "tr",
    "td",
];

/// A message body in both forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// The plain-text part: the Markdown as typed (readable as it is).
    pub text: String,
    /// The sanitized HTML part.
    pub html: String,
}

/// Markdown to sanitized HTML. Line breaks the agent typed are kept (as in a mail client).
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML is text the agent typed, shown as such.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::SoftBreak => Event::HardBreak,
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    sanitize(&html)
}

/// Cleans HTML to the reply allow-list.
pub fn sanitize(html: &str) -> String {
    let mut tags: HashSet<&str> = TAGS.into_iter().collect();
    tags.extend(["thead", "tbody", "th", "div", "span"]);
    let attributes: HashMap<&str, HashSet<&str>> = HashMap::from([
        ("a", HashSet::from(["href"])),
        ("ol", HashSet::from(["start"])),
        ("div", HashSet::from(["class"])),
        ("blockquote", HashSet::from(["class"])),
    ]);
    Builder::empty()
        .tags(tags)
        .tag_attributes(attributes)
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// The reply and the signature under it, as stored and sent (without the quote).
pub fn with_signature(markdown: &str, signature: &str) -> Body {
    let markdown = markdown.trim();
    let signature = signature.trim();
    if signature.is_empty() {
        return Body {
            text: markdown.to_owned(),
            html: render(markdown),
        };
    }
    Body {
        text: format!("{markdown}\n\n-- \n{signature}"),
        html: format!(
            "{}<div class=\"signature\">-- <br>\n{}</div>",
            render(markdown),
            plain_to_html(signature)
        ),
    }
}

/// What the agent typed, from a stored reply text: without the signature
/// [`with_signature`] put under the last `-- ` line (undo send puts the text back in the box,
/// and sending again adds the signature again).
pub fn typed_text(stored: &str) -> &str {
    stored
        .rsplit_once("\n\n-- \n")
        .map_or(stored, |(typed, _)| typed)
}

/// Escaped text with its line breaks, for text that is not Markdown.
pub fn plain_to_html(text: &str) -> String {
    escape(text).replace("\r\n", "\n").replace('\n', "<br>\n")
}

/// Text escaped for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The message a reply answers, to quote under it.
pub struct Quoted<'a> {
    /// "Anna Berg <anna@customer.test>" or the address alone.
    pub from: &'a str,
    /// RFC 2822 date.
    pub date: &'a str,
    pub text: &'a str,
    /// The message's own (sanitized) HTML, if it was one of ours.
    pub html: Option<&'a str>,
}

/// `body` with `quoted` under it: `On …, … wrote:` and `> ` lines in the text part, a
/// `gmail_quote` div holding a `blockquote` in the HTML part.
pub fn with_quote(body: &Body, quoted: &Quoted<'_>) -> Body {
    let attribution = format!("On {}, {} wrote:", quoted.date, quoted.from);
    let quoted_text: String = quoted
        .text
        .trim_end()
        .lines()
        .map(|line| {
            if line.is_empty() || line.starts_with('>') {
                format!(">{line}\n")
            } else {
                format!("> {line}\n")
            }
        })
        .collect();
    let quoted_html = match quoted.html {
        Some(html) => sanitize(html),
        None => plain_to_html(quoted.text.trim_end()),
    };
    Body {
        text: format!("{}\n\n{attribution}\n{quoted_text}", body.text),
        html: format!(
            "{}\n<br>\n<div class=\"gmail_quote\"><div class=\"gmail_attr\">{}</div>\
             <blockquote class=\"gmail_quote\" style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex\">{}</blockquote></div>",
            body.html,
            escape(&attribution),
            quoted_html
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_text_comes_back_without_its_signature() {
        let stored = with_signature("Thanks!\n\n-- \nnot mine", "Mia\nShop A").text;
        assert_eq!(typed_text(&stored), "Thanks!\n\n-- \nnot mine");
        assert_eq!(typed_text("No signature"), "No signature");
    }

    #[test]
    fn markdown_becomes_html_and_scripts_links_and_images_are_tamed() {
        let html = render(
            "**bold** _it_\n- one\n- two\n\n> quoted\n\n[shop](https://shop.test) [x](javascript:alert(1))\n\n<script>alert(1)</script>\n![t](https://tracker.test/p.gif)",
        );
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<em>it</em>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("<blockquote>"), "{html}");
        assert!(html.contains("href=\"https://shop.test\""), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn the_quote_is_prefixed_in_text_and_wrapped_in_html() {
        let body = with_signature("Thanks!", "Mia\nShop A");
        let quoted = with_quote(
            &body,
            &Quoted {
                from: "Anna <anna@customer.test>",
                date: "Mon, 23 Nov 2026 10:00:00 +0000",
                text: "Where is it?\n<b>now</b>",
                html: None,
            },
        );
        assert!(
            quoted
                .text
                .starts_with("Thanks!\n\n-- \nMia\nShop A\n\nOn Mon")
        );
        assert!(quoted.text.contains("> Where is it?\n> <b>now</b>"));
        assert!(
            quoted.html.contains("class=\"gmail_quote\""),
            "{}",
            quoted.html
        );
        assert!(quoted.html.contains("&lt;b&gt;now"), "{}", quoted.html);
        assert!(quoted.html.contains("Mia<br>"), "{}", quoted.html);
    }
}
