//! Order numbers written in messages ("#1001", "order 1001", "Bestellung Nr. 1001",
//! "commande n° 1001", "pedido 1001", "ordine 1001", "bestelling 1001"): the text is cut
//! into parts, and each number becomes a link — to the order in the panel when it is one of
//! the customer's, else to the search of the shop's admin. In an HTML mail (already
//! sanitized) only the text between tags is read, and never the text of an existing link.

use std::sync::LazyLock;

use regex::Regex;

/// A piece of a message's text; `href` when it is an order number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    pub href: Option<String>,
}

static ORDER_NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:#\s?(\d{3,12})\b|\b(?:order|bestellung|bestellnummer|auftrag|commande|pedido|ordine|bestelling|ordernummer)(?:\s+(?:number|no\.?|nr\.?|n°|nº|num\.?|numéro|número|numero))?\s*[:#]?\s*(\d{3,12})\b)",
    )
    .ok()
});

/// The order numbers in `text`, in order of appearance.
pub fn numbers(text: &str) -> Vec<String> {
    let Some(pattern) = ORDER_NUMBER.as_ref() else {
        return Vec::new();
    };
    pattern
        .captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// `text` cut at its order numbers, each linked by `href_of` (None: no link). Empty when the
/// text names no order.
pub fn parts(text: &str, href_of: impl Fn(&str) -> Option<String>) -> Vec<Part> {
    let mut out = Vec::new();
    let Some(pattern) = ORDER_NUMBER.as_ref() else {
        return out;
    };
    let mut last = 0;
    for captures in pattern.captures_iter(text) {
        let (Some(whole), Some(number)) =
            (captures.get(0), captures.get(1).or_else(|| captures.get(2)))
        else {
            continue;
        };
        let Some(href) = href_of(number.as_str()) else {
            continue;
        };
        if whole.start() > last {
            out.push(Part {
                text: text[last..whole.start()].to_owned(),
                href: None,
            });
        }
        out.push(Part {
            text: whole.as_str().to_owned(),
            href: Some(href),
        });
        last = whole.end();
    }
    if out.is_empty() {
        return out;
    }
    if last < text.len() {
        out.push(Part {
            text: text[last..].to_owned(),
            href: None,
        });
    }
    out
}

/// Sanitized HTML with the order numbers of its text linked by `href_of`; `None` when it
/// names no order. Tags are copied as they are (quoted attribute values may hold `>`), and
/// text inside an `<a>` stays as it is: a link is never nested in a link.
pub fn link_html(html: &str, href_of: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(html.len() + 64);
    let mut linked = false;
    let mut in_link = 0usize;
    let mut rest = html;
    while !rest.is_empty() {
        if rest.starts_with('<') {
            let end = tag_end(rest);
            let tag = &rest[..end];
            let name: String = tag
                .trim_start_matches('<')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect::<String>()
                .to_ascii_lowercase();
            match name.as_str() {
                "a" => in_link += 1,
                "/a" => in_link = in_link.saturating_sub(1),
                _ => {}
            }
            out.push_str(tag);
            rest = &rest[end..];
            continue;
        }
        let end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..end];
        let parts = if in_link == 0 {
            parts(text, &href_of)
        } else {
            Vec::new()
        };
        if parts.is_empty() {
            out.push_str(text);
        } else {
            linked = true;
            for part in parts {
                match part.href {
                    Some(href) => {
                        out.push_str("<a href=\"");
                        out.push_str(&escape_attribute(&href));
                        out.push_str("\" class=\"order-ref\">");
                        out.push_str(&part.text);
                        out.push_str("</a>");
                    }
                    None => out.push_str(&part.text),
                }
            }
        }
        rest = &rest[end..];
    }
    linked.then_some(out)
}

/// Where the tag at the start of `html` ends (after its `>`), quotes respected.
fn tag_end(html: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in html.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    html.len()
}

fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_found_in_the_six_languages() {
        let text = "Where is #1001? Also order 1002, Bestellung Nr. 1003, commande n° 1004, \
                    pedido 1005, ordine 1006, bestelling 1007. Call 12 or #12.";
        assert_eq!(
            numbers(text),
            ["1001", "1002", "1003", "1004", "1005", "1006", "1007"]
        );
    }

    #[test]
    fn parts_keep_the_whole_text_and_link_the_numbers() {
        let parts = parts("Hi, order 1001 is late", |n| Some(format!("#order-{n}")));
        let joined: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, "Hi, order 1001 is late");
        assert_eq!(parts[1].href.as_deref(), Some("#order-1001"));
        assert!(super::parts("no order here", |_| Some(String::new())).is_empty());
    }

    #[test]
    fn html_text_is_linked_but_tags_and_existing_links_are_not() {
        let html = "<p title=\"order 1003 > x\">Wo ist <b>Bestellung #1001</b>?</p>\
                    <a href=\"https://shop.test/o/1002\">order 1002</a> &amp; order 1004";
        let linked = link_html(html, |n| Some(format!("https://shop.test/s?q={n}&x=1")))
            .expect("names orders");
        assert_eq!(
            linked,
            "<p title=\"order 1003 > x\">Wo ist <b><a href=\"https://shop.test/s?q=1001&amp;x=1\" \
             class=\"order-ref\">Bestellung #1001</a></b>?</p>\
             <a href=\"https://shop.test/o/1002\">order 1002</a> &amp; <a \
             href=\"https://shop.test/s?q=1004&amp;x=1\" class=\"order-ref\">order 1004</a>"
        );
        assert_eq!(link_html("<p>nothing</p>", |_| Some(String::new())), None);
    }
}
