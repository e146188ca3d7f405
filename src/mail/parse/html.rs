//! HTML sanitizing for display inside Lethe (ammonia, plus Lethe's rules): no scripts, styles
//! sheets, frames, objects, forms or event handlers; links open in a new tab without referrer;
//! remote images are parked in `data-remote-src` unless the agent chose to load them; `cid:` and
//! `data:image/…` images stay; inline `style` keeps only harmless declarations and never a
//! `url(…)`.

use std::borrow::Cow;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use regex::{Captures, Regex};

/// CSS properties kept in `style` attributes. None of them can take an image or URL value.
const CSS_PROPERTIES: &[&str] = &[
    "color",
    "background-color",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-transform",
    "line-height",
    "letter-spacing",
    "vertical-align",
    "white-space",
    "width",
    "max-width",
    "min-width",
    "height",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-radius",
    "display",
];

/// Functions allowed in kept CSS values; anything else with a `(` is dropped.
const CSS_FUNCTIONS: &[&str] = &["rgb(", "rgba(", "hsl(", "hsla("];

/// An `<img …>` tag as serialized by ammonia (attribute values always double-quoted, `"`
/// escaped), so a `>` inside a value does not end the match.
static IMG_TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"<img((?:\s+[^\s=>"/]+(?:="[^"]*")?)*)\s*/?>"#).ok());
static REMOTE_SRC: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(\s)src="((?i:https?):[^"]*)""#).ok());

/// Sanitizes an HTML body for display. With `load_remote_images` false, `http(s)` image sources
/// are moved to `data-remote-src` so the browser loads nothing until the agent asks for it.
pub fn sanitize_html(html: &str, load_remote_images: bool) -> String {
    let mut builder = Builder::default();
    builder
        .add_url_schemes(["cid", "data"])
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .add_generic_attributes(["style"])
        .attribute_filter(filter_attribute);
    let clean = builder.clean(html).to_string();
    if load_remote_images {
        clean
    } else {
        park_remote_images(&clean)
    }
}

/// Turns parked remote images back into sources (for a sanitizer pass that parks them again,
/// or for showing them once the agent asked).
pub fn unpark_remote_images(html: &str) -> String {
    html.replace(" data-remote-src=\"", " src=\"")
}

fn filter_attribute<'a>(element: &str, attribute: &str, value: &'a str) -> Option<Cow<'a, str>> {
    let lower = value.trim_start().to_ascii_lowercase();
    let is_img_src = element == "img" && attribute == "src";
    if lower.starts_with("data:") {
        let image = lower.starts_with("data:image/") && !lower.starts_with("data:image/svg");
        return (is_img_src && image).then_some(Cow::Borrowed(value));
    }
    if lower.starts_with("cid:") {
        return is_img_src.then_some(Cow::Borrowed(value));
    }
    if attribute == "style" {
        let css = filter_style(value);
        return (!css.is_empty()).then_some(Cow::Owned(css));
    }
    Some(Cow::Borrowed(value))
}

/// Keeps only allow-listed declarations whose values cannot reference anything external.
fn filter_style(style: &str) -> String {
    style
        .split(';')
        .filter_map(|declaration| {
            let (property, value) = declaration.split_once(':')?;
            let property = property.trim().to_ascii_lowercase();
            let value = value.trim();
            let safe = CSS_PROPERTIES.contains(&property.as_str())
                && !value.is_empty()
                && is_safe_css_value(value);
            safe.then(|| format!("{property}: {value}"))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_safe_css_value(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if lower.contains('\\')
        || lower.contains("/*")
        || lower.contains("url")
        || lower.contains("expression")
        || lower.contains('@')
        || lower.contains('<')
        || lower.contains('&')
    {
        return false;
    }
    // Every opening parenthesis must belong to an allowed colour function.
    lower
        .match_indices('(')
        .all(|(i, _)| CSS_FUNCTIONS.iter().any(|f| lower[..=i].ends_with(f)))
}

fn park_remote_images(html: &str) -> String {
    let (Some(img), Some(src)) = (IMG_TAG.as_ref(), REMOTE_SRC.as_ref()) else {
        return html.to_owned();
    };
    img.replace_all(html, |tag: &Captures<'_>| {
        src.replace(&tag[0], r#"${1}data-remote-src="${2}""#)
            .into_owned()
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        sanitize_html(html, false)
    }

    #[test]
    fn scripts_styles_frames_objects_and_forms_are_removed() {
        let out = clean(
            "<p>hi</p><script>alert(1)</script><style>p{color:red}</style>\
             <iframe src=\"https://x.test\"></iframe><object data=\"x\"></object>\
             <embed src=\"x\"><form action=\"https://x.test\"><input name=\"a\"></form>",
        );
        for banned in [
            "<script",
            "alert",
            "<style",
            "color:red",
            "<iframe",
            "<object",
            "<embed",
            "<form",
            "<input",
        ] {
            assert!(!out.contains(banned), "{banned} survived in {out}");
        }
        assert!(out.contains("<p>hi</p>"));
    }

    #[test]
    fn event_handlers_are_removed() {
        let out = clean(
            r#"<p onclick="steal()">x</p><img src="cid:a" onerror="steal()"><body onload="x()">"#,
        );
        assert!(
            !out.contains("onclick") && !out.contains("onerror") && !out.contains("onload"),
            "{out}"
        );
        assert!(!out.contains("steal"), "{out}");
    }

    #[test]
    fn javascript_and_data_links_are_removed() {
        let out = clean(
            r#"<a href="javascript:alert(1)">a</a><a href=" JaVaScRiPt:alert(1)">b</a><a href="data:text/html,<script>x</script>">c</a><a href="vbscript:x">d</a>"#,
        );
        let lower = out.to_ascii_lowercase();
        assert!(
            !lower.contains("javascript")
                && !lower.contains("data:")
                && !lower.contains("vbscript"),
            "{out}"
        );
    }

    #[test]
    fn links_get_rel_and_target() {
        let out = clean(r#"<a href="https://shop.example/track?id=1">track</a>"#);
        assert!(
            out.contains(r#"rel="noopener noreferrer nofollow""#),
            "{out}"
        );
        assert!(out.contains(r#"target="_blank""#), "{out}");
        assert!(
            out.contains(r#"href="https://shop.example/track?id=1""#),
            "{out}"
        );
    }

    #[test]
    fn remote_images_are_not_loaded_by_default() {
        let out = clean(
            r#"<img alt="a>b" src="https://tracker.example/p.gif?u=1&amp;v=2"><img src="HTTP://x.example/a.png">"#,
        );
        assert!(!out.contains(" src="), "{out}");
        assert!(
            out.contains(r#"data-remote-src="https://tracker.example/p.gif?u=1&amp;v=2""#),
            "{out}"
        );
        assert!(
            out.contains(r#"data-remote-src="HTTP://x.example/a.png""#),
            "{out}"
        );
    }

    #[test]
    fn remote_images_load_when_allowed() {
        let out = sanitize_html(r#"<img src="https://x.example/a.png">"#, true);
        assert!(out.contains(r#"src="https://x.example/a.png""#), "{out}");
        assert!(!out.contains("data-remote-src"), "{out}");
    }

    #[test]
    fn smuggled_data_remote_src_is_dropped() {
        let out = clean(r#"<img data-remote-src="https://x.example/a.png" src="cid:a">"#);
        assert_eq!(out.matches("data-remote-src").count(), 0, "{out}");
    }

    #[test]
    fn cid_and_data_images_are_kept() {
        let out =
            clean(r#"<img src="cid:logo@shop"><img src="data:image/png;base64,iVBORw0KGgo=">"#);
        assert!(out.contains(r#"src="cid:logo@shop""#), "{out}");
        assert!(
            out.contains(r#"src="data:image/png;base64,iVBORw0KGgo=""#),
            "{out}"
        );
    }

    #[test]
    fn svg_data_images_and_cid_links_are_removed() {
        let out = clean(r#"<img src="data:image/svg+xml;base64,PHN2Zz4="><a href="cid:x">x</a>"#);
        assert!(!out.contains("data:") && !out.contains("cid:"), "{out}");
    }

    #[test]
    fn relative_and_protocol_relative_urls_are_removed() {
        let out =
            clean(r#"<img src="//evil.example/a.png"><img src="/a.png"><a href="../x">x</a>"#);
        assert!(
            !out.contains("evil") && !out.contains("a.png") && !out.contains("../x"),
            "{out}"
        );
    }

    #[test]
    fn no_css_url_survives() {
        let out = clean(
            r#"<div style="color: red; background: url(https://t.example/a.png); background-image:url('x')">a</div>
               <p style="color: blue; list-style: u\72l(https://t.example/b)">b</p>
               <p style="background-color: rgb(1,2,3); width: expression(alert(1)); border: image-set('https://t.example/c' 1x)">c</p>
               <table background="https://t.example/d.png"><tr><td background="https://t.example/e.png">d</td></tr></table>"#,
        );
        let lower = out.to_ascii_lowercase();
        assert!(!lower.contains("url"), "{out}");
        assert!(!lower.contains("t.example"), "{out}");
        assert!(!lower.contains("expression"), "{out}");
        assert!(out.contains("color: red"), "{out}");
        assert!(out.contains("background-color: rgb(1,2,3)"), "{out}");
    }
}
