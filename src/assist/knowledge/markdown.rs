//! Article Markdown: rendered with pulldown-cmark and sanitized with ammonia to a small
//! allow-list (no images, no scripts, no styles; links to `http`, `https`, `mailto` and
//! relative ones), and turned into plain text for insertion into a reply.

use std::collections::{HashMap, HashSet};

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

const TAGS: [&str; 25] = [
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
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
];

/// Markdown to sanitized HTML. Raw HTML in the Markdown is shown as text.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    let attributes: HashMap<&str, HashSet<&str>> = HashMap::from([
        ("a", HashSet::from(["href"])),
        ("ol", HashSet::from(["start"])),
    ]);
    Builder::empty()
        .tags(TAGS.into_iter().collect())
        .tag_attributes(attributes)
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer"))
        .clean(&html)
        .to_string()
}

/// Markdown to plain text: paragraphs and list items on their own lines, links as
/// "text (url)", no markup left.
pub fn to_plain_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut link: Option<String> = None;
    let mut list_depth = 0usize;
    let newline = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    ) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) => link = Some(dest_url.into_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link.take() {
                    out.push_str(&format!(" ({url})"));
                }
            }
            Event::Start(Tag::List(_)) => {
                newline(&mut out);
                list_depth += 1;
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                if list_depth == 0 {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                newline(&mut out);
                out.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                out.push_str("- ");
            }
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock) => {
                newline(&mut out);
                if list_depth == 0 {
                    out.push('\n');
                }
            }
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => newline(&mut out),
            Event::End(TagEnd::TableCell) => out.push('\t'),
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
                out.push_str(&text)
            }
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Rule => {
                newline(&mut out);
                out.push_str("---\n\n");
            }
            _ => {}
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_sanitized_and_scripts_are_text() {
        let html = to_html("# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **b**");
        assert!(html.contains("<h1>Hi</h1>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("href=\"javascript"));
        assert!(html.contains("<strong>b</strong>"));
    }

    #[test]
    fn plain_text_keeps_words_and_link_targets() {
        let text = to_plain_text(
            "# Returns\n\nSend it **back** within [30 days](https://x.test/r).\n\n- one\n- two",
        );
        assert_eq!(
            text,
            "Returns\n\nSend it back within 30 days (https://x.test/r).\n\n- one\n- two"
        );
    }
}
