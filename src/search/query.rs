//! The agent-facing query language and its parser.
//!
//! `words` (all must match), `"exact phrases"`, `-excluded` words and `-"phrases"`, and the
//! filters `from:`, `to:`, `tag:`, `status:`, `assignee:`, `channel:`, `has:attachment`,
//! `before:`, `after:`, `direction:`. A filter may be negated (`-tag:spam`) and its value
//! quoted (`tag:"needs review"`). Parsing never panics; mistakes become a [`QueryError`]
//! whose message explains the problem in plain words.

use chrono::NaiveDate;

/// Longest accepted query, in bytes.
const MAX_QUERY_BYTES: usize = 1_000;
/// Most words, phrases and filters in one query.
const MAX_PARTS: usize = 32;

const KNOWN_FILTERS: &str =
    "from:, to:, tag:, status:, assignee:, channel:, has:, before:, after:, direction:";

/// Why a query could not be understood. The Display text is shown to the agent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `foo:bar` with an unknown `foo`.
    #[error("unknown filter \"{0}:\" — known filters are {KNOWN_FILTERS}")]
    UnknownFilter(String),
    /// A filter without a value, like `from:` alone.
    #[error("\"{filter}:\" needs a value, like {example}")]
    MissingValue {
        /// The filter name.
        filter: &'static str,
        /// An example of correct use.
        example: &'static str,
    },
    /// `before:`/`after:` with something that is not a date.
    #[error("\"{0}:\" needs a date like 2026-05-01")]
    BadDate(&'static str),
    /// `status:` with an unknown status.
    #[error("\"status:\" must be open, pending or closed (not \"{0}\")")]
    BadStatus(String),
    /// `direction:` with an unknown direction.
    #[error("\"direction:\" must be inbound, outbound or note (not \"{0}\")")]
    BadDirection(String),
    /// `assignee:` with something other than me, none or a user number.
    #[error("\"assignee:\" must be me, none or a user number (not \"{0}\")")]
    BadAssignee(String),
    /// `has:` with something other than attachment.
    #[error("\"has:\" only knows has:attachment (not \"{0}\")")]
    BadHas(String),
    /// A `"` without its closing partner.
    #[error("unclosed quote — add a closing \" to end the phrase")]
    UnclosedQuote,
    /// Nothing to search for.
    #[error("the query has no search terms")]
    NoTerms,
    /// The query is longer than we accept.
    #[error("the query is too long (at most {MAX_QUERY_BYTES} characters)")]
    TooLong,
    /// The query has too many parts.
    #[error("the query has too many words and filters (at most {MAX_PARTS})")]
    TooManyParts,
    /// `assignee:me` when no user is signed in.
    #[error("\"assignee:me\" needs a signed-in user")]
    NoCurrentUser,
}

/// A free-text part of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextTerm {
    /// One word; matched after folding and stemming. Words like `ORD-2024-00123` or
    /// `anna@example.de` are matched as codes.
    Word(String),
    /// An exact phrase (folded, not stemmed).
    Phrase(String),
}

/// Who a conversation is assigned to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// The signed-in user ([`super::SearchContext::me`]).
    Me,
    /// Nobody.
    Nobody,
    /// The user with this id.
    User(i64),
}

/// A structured filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Sender address or name part.
    From(String),
    /// Recipient address or name part.
    To(String),
    /// Tag (exact, case- and accent-insensitive).
    Tag(String),
    /// `open`, `pending` or `closed`.
    Status(String),
    /// Assignee.
    Assignee(AssigneeFilter),
    /// Channel name (exact, case-insensitive).
    Channel(String),
    /// The message has an attachment.
    HasAttachment,
    /// Strictly before this day (UTC).
    Before(NaiveDate),
    /// On or after this day (UTC).
    After(NaiveDate),
    /// `inbound`, `outbound` or `note`.
    Direction(String),
}

/// A parsed query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Words and phrases that must all match.
    pub include: Vec<TextTerm>,
    /// Words and phrases that must not match.
    pub exclude: Vec<TextTerm>,
    /// Filters, each with `true` when negated.
    pub filters: Vec<(bool, Filter)>,
    /// Words of which at least [`Query::min_any`] must match, ranked by how many do and how
    /// rare they are: "more like this" for suggestions (src/assist/suggest/). Not written in
    /// the query language.
    pub any_of: Vec<TextTerm>,
    pub min_any: usize,
}

impl Query {
    /// Parses the query language. Never panics.
    pub fn parse(input: &str) -> Result<Query, QueryError> {
        if input.len() > MAX_QUERY_BYTES {
            return Err(QueryError::TooLong);
        }
        let mut query = Query::default();
        let mut parts = 0usize;
        let mut rest = input;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let negated = rest.starts_with('-');
            if negated {
                rest = &rest[1..];
                if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                    continue;
                }
            }
            parts += 1;
            if parts > MAX_PARTS {
                return Err(QueryError::TooManyParts);
            }
            if let Some(after_quote) = rest.strip_prefix('"') {
                let (phrase, tail) = quoted(after_quote)?;
                rest = tail;
                query.push_text(negated, TextTerm::Phrase(phrase.to_string()));
                continue;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let word = &rest[..end];
            rest = &rest[end..];
            match word.split_once(':') {
                Some((name, value)) if is_filter_name(name) => {
                    let lname = name.to_ascii_lowercase();
                    let known = FILTERS.iter().find(|f| f.name == lname);
                    let value = if value.is_empty() {
                        if let Some(after_quote) = rest.strip_prefix('"') {
                            let (v, tail) = quoted(after_quote)?;
                            rest = tail;
                            v
                        } else {
                            value
                        }
                    } else {
                        value
                    };
                    match known {
                        Some(spec) => {
                            let value = value.trim();
                            if value.is_empty() {
                                return Err(QueryError::MissingValue {
                                    filter: spec.name,
                                    example: spec.example,
                                });
                            }
                            query.filters.push((negated, (spec.parse)(value)?));
                        }
                        // "Re:" alone is a word, not a filter; a pasted URL is a word too.
                        None if value.is_empty() => {
                            query.push_text(negated, TextTerm::Word(name.to_string()))
                        }
                        None if value.starts_with("//") => {
                            query.push_text(negated, TextTerm::Word(word.to_string()))
                        }
                        None => return Err(QueryError::UnknownFilter(name.to_string())),
                    }
                }
                _ => query.push_text(negated, TextTerm::Word(word.to_string())),
            }
        }
        if query.include.is_empty() && query.exclude.is_empty() && query.filters.is_empty() {
            return Err(QueryError::NoTerms);
        }
        Ok(query)
    }

    /// True when the query has words or phrases to rank by.
    pub fn has_text(&self) -> bool {
        !self.include.is_empty() || !self.any_of.is_empty()
    }

    /// Conversations like a text: any `words` (at least `min` of them) and the `filters`.
    pub fn similar_to(words: Vec<String>, min: usize, filters: Vec<Filter>) -> Query {
        Query {
            any_of: words.into_iter().map(TextTerm::Word).collect(),
            min_any: min,
            filters: filters.into_iter().map(|f| (false, f)).collect(),
            ..Query::default()
        }
    }

    fn push_text(&mut self, negated: bool, term: TextTerm) {
        let text = match &term {
            TextTerm::Word(w) | TextTerm::Phrase(w) => w,
        };
        if !text.chars().any(char::is_alphanumeric) {
            return;
        }
        if negated {
            self.exclude.push(term);
        } else {
            self.include.push(term);
        }
    }
}

/// Splits `s` (just after an opening quote) at the closing quote.
fn quoted(s: &str) -> Result<(&str, &str), QueryError> {
    match s.find('"') {
        Some(i) => Ok((&s[..i], &s[i + 1..])),
        None => Err(QueryError::UnclosedQuote),
    }
}

fn is_filter_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 20 && name.chars().all(|c| c.is_ascii_alphabetic())
}

struct FilterSpec {
    name: &'static str,
    example: &'static str,
    parse: fn(&str) -> Result<Filter, QueryError>,
}

const FILTERS: &[FilterSpec] = &[
    FilterSpec {
        name: "from",
        example: "from:anna@example.com",
        parse: |v| Ok(Filter::From(v.to_string())),
    },
    FilterSpec {
        name: "to",
        example: "to:support@shop.example",
        parse: |v| Ok(Filter::To(v.to_string())),
    },
    FilterSpec {
        name: "tag",
        example: "tag:refund",
        parse: |v| Ok(Filter::Tag(v.to_string())),
    },
    FilterSpec {
        name: "status",
        example: "status:open",
        parse: |v| {
            let l = v.to_ascii_lowercase();
            match l.as_str() {
                "open" | "pending" | "closed" => Ok(Filter::Status(l)),
                _ => Err(QueryError::BadStatus(v.to_string())),
            }
        },
    },
    FilterSpec {
        name: "assignee",
        example: "assignee:me",
        parse: |v| {
            let l = v.to_ascii_lowercase();
            match l.as_str() {
                "me" => Ok(Filter::Assignee(AssigneeFilter::Me)),
                "none" | "nobody" => Ok(Filter::Assignee(AssigneeFilter::Nobody)),
                _ => l
                    .parse::<i64>()
                    .map(|id| Filter::Assignee(AssigneeFilter::User(id)))
                    .map_err(|_| QueryError::BadAssignee(v.to_string())),
            }
        },
    },
    FilterSpec {
        name: "channel",
        example: "channel:email",
        parse: |v| Ok(Filter::Channel(v.to_string())),
    },
    FilterSpec {
        name: "has",
        example: "has:attachment",
        parse: |v| match v.to_ascii_lowercase().as_str() {
            "attachment" | "attachments" => Ok(Filter::HasAttachment),
            _ => Err(QueryError::BadHas(v.to_string())),
        },
    },
    FilterSpec {
        name: "before",
        example: "before:2026-05-01",
        parse: |v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Filter::Before)
                .map_err(|_| QueryError::BadDate("before"))
        },
    },
    FilterSpec {
        name: "after",
        example: "after:2026-05-01",
        parse: |v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Filter::After)
                .map_err(|_| QueryError::BadDate("after"))
        },
    },
    FilterSpec {
        name: "direction",
        example: "direction:inbound",
        parse: |v| {
            let l = v.to_ascii_lowercase();
            match l.as_str() {
                "inbound" | "outbound" | "note" => Ok(Filter::Direction(l)),
                _ => Err(QueryError::BadDirection(v.to_string())),
            }
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_everything() {
        let q = Query::parse(
            r#"refund "late delivery" -spam -"out of office" from:anna@example.de tag:"needs review" -status:closed assignee:me before:2026-05-01"#,
        )
        .unwrap();
        assert_eq!(
            q.include,
            vec![
                TextTerm::Word("refund".into()),
                TextTerm::Phrase("late delivery".into())
            ]
        );
        assert_eq!(
            q.exclude,
            vec![
                TextTerm::Word("spam".into()),
                TextTerm::Phrase("out of office".into())
            ]
        );
        assert_eq!(q.filters.len(), 5);
        assert_eq!(q.filters[2], (true, Filter::Status("closed".into())));
    }

    #[test]
    fn errors_read_well() {
        let e = Query::parse("foo:bar").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown filter \"foo:\" — known filters are from:, to:, tag:, status:, assignee:, channel:, has:, before:, after:, direction:"
        );
        assert_eq!(
            Query::parse("before:yesterday").unwrap_err().to_string(),
            "\"before:\" needs a date like 2026-05-01"
        );
        assert_eq!(
            Query::parse("\"refund").unwrap_err(),
            QueryError::UnclosedQuote
        );
        assert_eq!(Query::parse("   ").unwrap_err(), QueryError::NoTerms);
        assert_eq!(Query::parse("!!! -").unwrap_err(), QueryError::NoTerms);
        assert!(matches!(
            Query::parse("from:").unwrap_err(),
            QueryError::MissingValue { .. }
        ));
        assert!(matches!(
            Query::parse("status:maybe").unwrap_err(),
            QueryError::BadStatus(_)
        ));
        assert!(Query::parse("Re: Bestellung").is_ok());
        assert!(Query::parse("status:open").is_ok());
    }

    #[test]
    fn never_panics_on_random_input() {
        // xorshift, deterministic
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet: Vec<char> = "ab:-\" ü\u{0}ß€😀\\()*:tofrmdeasg0129-.@\t\n"
            .chars()
            .collect();
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let len = (s % 40) as usize;
            let mut text = String::new();
            let mut t = s;
            for _ in 0..len {
                t ^= t << 13;
                t ^= t >> 7;
                t ^= t << 17;
                text.push(alphabet[(t % alphabet.len() as u64) as usize]);
            }
            let _ = Query::parse(&text);
        }
    }
}
