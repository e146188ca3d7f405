//! Search parameters and results: context, sorting, pagination, conversation hits, and the
//! HTML snippets with `<mark>` around the words that matched.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tantivy::tokenizer::{TextAnalyzer, TokenStream};

use super::analysis::{Lang, analyze, truncate_at_char, word_parts};
use super::cache::{Answer, KEPT};
use super::collect::{Group, Groups};
use super::query::{Query, TextTerm};

/// Who is searching, for filters that depend on it.
#[derive(Clone, Debug, Default)]
pub struct SearchContext {
    /// The signed-in user's id, for `assignee:me`.
    pub me: Option<i64>,
    /// Conversations the user may not see (e.g. restricted by a data subject request).
    pub hidden_conversations: Vec<i64>,
}

/// Result order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (newest first when the query has no words).
    #[default]
    Relevance,
    /// Newest matching message first.
    Newest,
}

/// Which page of conversations to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number (0 is treated as 1).
    pub number: usize,
    /// Conversations per page (clamped to 1..=200).
    pub per_page: usize,
    /// Order.
    pub sort: Sort,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            number: 1,
            per_page: 25,
            sort: Sort::Relevance,
        }
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    /// Number of conversations with at least one matching message.
    pub total_conversations: usize,
    /// The conversations of the requested page.
    pub hits: Vec<ConversationHit>,
}

/// A conversation with matching messages.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationHit {
    /// The conversation.
    pub conversation_id: i64,
    /// Its best matching message (highest score, or newest when sorting by date).
    pub best_message_id: i64,
    /// Score of the best matching message (0 without words).
    pub score: f32,
    /// Date of `best_message_id`.
    pub date: DateTime<Utc>,
    /// Subject of `best_message_id`.
    pub subject: String,
    /// HTML-escaped excerpt of the body with `<mark>…</mark>` around matches.
    pub snippet_html: String,
    /// Number of matching messages in the conversation.
    pub matching_messages: usize,
}

/// The first and one-past-the-last position of `page` among `total` conversations.
pub(crate) fn page_bounds(page: Page, total: usize) -> (usize, usize) {
    let per_page = page.per_page.clamp(1, 200);
    let start = page
        .number
        .max(1)
        .saturating_sub(1)
        .saturating_mul(per_page);
    if start >= total {
        return (total, total);
    }
    (start, start.saturating_add(per_page).min(total))
}

/// Sorts the groups: the exact total, and the first [`KEPT`] conversations in order (or up to
/// the end of `page` when that is further), so that the next pages come from the same answer.
pub(crate) fn rank(groups: Groups, page: Page, by_score: bool) -> Answer {
    let total = groups.len();
    let (start, end) = page_bounds(page, total);
    // A page past the end shows nothing; it needs no more than the usual.
    let keep = if start >= total {
        KEPT.min(total)
    } else {
        end.max(KEPT.min(total))
    };
    let mut all: Vec<(i64, Group)> = groups.into_iter().collect();
    let cmp = |a: &(i64, Group), b: &(i64, Group)| {
        if by_score {
            b.1.best_score
                .total_cmp(&a.1.best_score)
                .then(b.1.newest_date.cmp(&a.1.newest_date))
                .then(b.0.cmp(&a.0))
        } else {
            b.1.newest_date.cmp(&a.1.newest_date).then(b.0.cmp(&a.0))
        }
    };
    if keep < all.len() {
        all.select_nth_unstable_by(keep, cmp);
        all.truncate(keep);
    }
    all.sort_unstable_by(cmp);
    Answer { total, first: all }
}

/// Converts stored microseconds to a UTC date.
pub(crate) fn micros_to_date(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// How many bytes of a body the snippet search looks at.
const SNIPPET_SCAN_BYTES: usize = 20_000;
/// Snippet length, in bytes of source text.
const SNIPPET_BYTES: usize = 220;
/// Context kept before the first match.
const SNIPPET_LEAD: usize = 60;

/// Finds the words of a body that match the query, in folded and stemmed form.
pub(crate) struct Highlighter {
    plain_terms: HashSet<String>,
    stem_terms: Vec<HashSet<String>>,
    plain: TextAnalyzer,
    stem: Vec<TextAnalyzer>,
}

impl Highlighter {
    /// `plain_query`/`plain_index`: the plain analyzers without/with spelling variants;
    /// `stem`: one stemming analyzer per [`Lang::ALL`].
    pub(crate) fn new(
        query: &Query,
        mut plain_query: TextAnalyzer,
        plain_index: TextAnalyzer,
        mut stem: Vec<TextAnalyzer>,
    ) -> Highlighter {
        let mut plain_terms = HashSet::new();
        let mut stem_terms = vec![HashSet::new(); stem.len()];
        for term in &query.include {
            match term {
                TextTerm::Word(w) => {
                    let parts = word_parts(w);
                    if parts.len() >= 2 {
                        plain_terms.extend(parts);
                        continue;
                    }
                    plain_terms.extend(analyze(&mut plain_query, w));
                    for (i, analyzer) in stem.iter_mut().enumerate() {
                        stem_terms[i].extend(analyze(analyzer, w));
                    }
                }
                TextTerm::Phrase(p) => plain_terms.extend(analyze(&mut plain_query, p)),
            }
        }
        Highlighter {
            plain_terms,
            stem_terms,
            plain: plain_index,
            stem,
        }
    }

    /// The HTML snippet of `body` (a document in language `lang`).
    pub(crate) fn snippet(&mut self, body: &str, lang: Option<Lang>) -> String {
        let text = truncate_at_char(body, SNIPPET_SCAN_BYTES);
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        if !self.plain_terms.is_empty() {
            let mut stream = self.plain.token_stream(text);
            while stream.advance() {
                let t = stream.token();
                if self.plain_terms.contains(&t.text) {
                    ranges.push((t.offset_from, t.offset_to));
                }
            }
        }
        if let Some(lang) = lang {
            let terms = &self.stem_terms[lang.index()];
            if let Some(analyzer) = self.stem.get_mut(lang.index())
                && !terms.is_empty()
            {
                let mut stream = analyzer.token_stream(text);
                while stream.advance() {
                    let t = stream.token();
                    if terms.contains(&t.text) {
                        ranges.push((t.offset_from, t.offset_to));
                    }
                }
            }
        }
        ranges.sort_unstable();
        ranges.dedup();
        render(text, &ranges)
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cuts a window around the first match and renders it as escaped HTML with marks.
fn render(text: &str, ranges: &[(usize, usize)]) -> String {
    let first = ranges.first().map_or(0, |r| r.0);
    let mut start = floor_boundary(text, first.saturating_sub(SNIPPET_LEAD));
    if start > 0 {
        // Start at a word boundary when one is near.
        if let Some(ws) = text[start..first].find(char::is_whitespace) {
            start += ws;
        }
    }
    let mut end = floor_boundary(text, start.saturating_add(SNIPPET_BYTES));
    if end < text.len()
        && let Some(ws) = text[start..end].rfind(char::is_whitespace)
        && start + ws > first
    {
        end = start + ws;
    }
    let mut out = String::with_capacity(end - start + 32);
    if start > 0 {
        out.push('…');
    }
    let mut pos = start;
    for &(a, b) in ranges {
        if b <= pos || a < pos {
            continue;
        }
        if a >= end {
            break;
        }
        let b = b.min(end);
        escape_into(&text[pos..a], &mut out);
        out.push_str("<mark>");
        escape_into(&text[a..b], &mut out);
        out.push_str("</mark>");
        pos = b;
    }
    escape_into(&text[pos..end], &mut out);
    if end < text.len() {
        out.push('…');
    }
    out.trim().to_string()
}

/// HTML-escapes `s` into `out`, collapsing whitespace runs to one space.
fn escape_into(s: &str, out: &mut String) {
    let mut last_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escaped_marks() {
        let text = "Hello <b>Anna</b> & your refund";
        let i = text.find("refund").unwrap();
        assert_eq!(
            render(text, &[(i, i + 6)]),
            "Hello &lt;b&gt;Anna&lt;/b&gt; &amp; your <mark>refund</mark>"
        );
    }
}
