//! Turns a parsed [`Query`] into a Tantivy query, always scoped to one organization.
//!
//! A word matches if it is found in any of: the folded `plain` field, the stemmed field of any
//! language (the word stemmed in that language), or — for words like `ORD-2024-00123` — the
//! `code` field (with a phrase over its parts as fallback). All words must match. Filters
//! and the organization scope are constant-score clauses that do not change ranking.

use std::ops::Bound;

use chrono::{NaiveDate, NaiveTime};
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query as TQuery, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use super::analysis::{Lang, analyze, code_of_word, keyword};
use super::forward::ForwardOnly;
use super::org_scope::OrgScope;
use super::query::{AssigneeFilter, Filter, Query, QueryError, TextTerm};
use super::results::SearchContext;
use super::schema::Fields;
use crate::orgs::OrgId;

/// The query-side analyzers (cloned per search; `TextAnalyzer` needs `&mut`).
#[derive(Clone)]
pub(crate) struct QueryAnalyzers {
    pub plain: TextAnalyzer,
    pub stem: Vec<TextAnalyzer>,
}

type Clause = (Occur, Box<dyn TQuery>);

fn term_query(field: Field, text: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn keyword_query(field: Field, text: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn filter_clause(occur: Occur, query: Box<dyn TQuery>) -> Clause {
    (occur, Box::new(ConstScoreQuery::new(query, 0.0)))
}

/// Exact folded phrase over the plain field; `None` when the text has no words.
fn phrase_query(fields: &Fields, an: &mut QueryAnalyzers, text: &str) -> Option<Box<dyn TQuery>> {
    let tokens = analyze(&mut an.plain, text);
    match tokens.len() {
        0 => None,
        1 => Some(Box::new(TermQuery::new(
            Term::from_field_text(fields.plain, &tokens[0]),
            IndexRecordOption::WithFreqsAndPositions,
        ))),
        _ => {
            let terms = tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (i, Term::from_field_text(fields.plain, t)))
                .collect();
            let phrase = Box::new(PhraseQuery::new_with_offset(terms));
            Some(Box::new(ForwardOnly(phrase)))
        }
    }
}

/// One word: plain OR any stemmed field, or code OR phrase of its parts.
fn word_query(fields: &Fields, an: &mut QueryAnalyzers, word: &str) -> Option<Box<dyn TQuery>> {
    let mut should: Vec<Clause> = Vec::new();
    if let Some(code) = code_of_word(word) {
        should.push((Occur::Should, term_query(fields.code, &code)));
        if let Some(phrase) = phrase_query(fields, an, word) {
            should.push((Occur::Should, phrase));
        }
    } else {
        for token in analyze(&mut an.plain, word) {
            should.push((Occur::Should, term_query(fields.plain, &token)));
        }
        for lang in Lang::ALL {
            let field = fields.stem[lang.index()];
            if let Some(analyzer) = an.stem.get_mut(lang.index()) {
                for token in analyze(analyzer, word) {
                    should.push((Occur::Should, term_query(field, &token)));
                }
            }
        }
    }
    (!should.is_empty()).then(|| Box::new(BooleanQuery::new(should)) as Box<dyn TQuery>)
}

fn text_query(
    fields: &Fields,
    an: &mut QueryAnalyzers,
    term: &TextTerm,
) -> Option<Box<dyn TQuery>> {
    match term {
        TextTerm::Word(w) => word_query(fields, an, w),
        TextTerm::Phrase(p) => phrase_query(fields, an, p),
    }
}

/// Terms a `from:`/`to:` value must all match.
fn address_query_terms(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ',' | ';'))
        .map(|chunk| keyword(chunk.trim_matches(|c: char| !c.is_alphanumeric())))
        .filter(|t| !t.is_empty())
        .collect()
}

fn day_start_micros(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

fn filter_query(
    fields: &Fields,
    ctx: &SearchContext,
    filter: &Filter,
) -> Result<Box<dyn TQuery>, QueryError> {
    let all = |field: Field, terms: Vec<String>| -> Box<dyn TQuery> {
        if terms.is_empty() {
            return Box::new(EmptyQuery);
        }
        let clauses = terms
            .iter()
            .map(|t| (Occur::Must, keyword_query(field, t)))
            .collect();
        Box::new(BooleanQuery::new(clauses))
    };
    Ok(match filter {
        Filter::From(v) => all(fields.from, address_query_terms(v)),
        Filter::To(v) => all(fields.to, address_query_terms(v)),
        Filter::Tag(v) => keyword_query(fields.tag, &keyword(v)),
        Filter::Status(v) => keyword_query(fields.status, &keyword(v)),
        Filter::Channel(v) => keyword_query(fields.channel, &keyword(v)),
        Filter::Direction(v) => keyword_query(fields.direction, &keyword(v)),
        Filter::HasAttachment => keyword_query(fields.has, "attachment"),
        Filter::Assignee(a) => {
            let value = match a {
                AssigneeFilter::Me => ctx.me.ok_or(QueryError::NoCurrentUser)?.to_string(),
                AssigneeFilter::Nobody => "none".to_string(),
                AssigneeFilter::User(id) => id.to_string(),
            };
            keyword_query(fields.assignee, &value)
        }
        Filter::Before(day) => Box::new(RangeQuery::new(
            Bound::Unbounded,
            Bound::Excluded(Term::from_field_i64(fields.date, day_start_micros(*day))),
        )),
        Filter::After(day) => Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_i64(fields.date, day_start_micros(*day))),
            Bound::Unbounded,
        )),
    })
}

/// Compiles `query` for organization `org`. The organization clause ([`OrgScope`]) is always
/// present.
pub(crate) fn compile(
    fields: &Fields,
    an: &mut QueryAnalyzers,
    org: OrgId,
    query: &Query,
    ctx: &SearchContext,
) -> Result<Box<dyn TQuery>, QueryError> {
    let mut clauses: Vec<Clause> = vec![(Occur::Must, Box::new(OrgScope::new(fields.org, org)))];
    for term in &query.include {
        // A word that analyzes to nothing indexable cannot match anything.
        let q = text_query(fields, an, term).unwrap_or_else(|| Box::new(EmptyQuery));
        clauses.push((Occur::Must, q));
    }
    let any: Vec<Clause> = query
        .any_of
        .iter()
        .filter_map(|term| text_query(fields, an, term))
        .map(|q| (Occur::Should, q))
        .collect();
    if !query.any_of.is_empty() {
        let min = query.min_any.clamp(1, any.len().max(1));
        clauses.push((
            Occur::Must,
            Box::new(BooleanQuery::with_minimum_required_clauses(any, min)),
        ));
    }
    for term in &query.exclude {
        if let Some(q) = text_query(fields, an, term) {
            clauses.push((Occur::MustNot, q));
        }
    }
    for (negated, filter) in &query.filters {
        let occur = if *negated {
            Occur::MustNot
        } else {
            Occur::Must
        };
        clauses.push(filter_clause(occur, filter_query(fields, ctx, filter)?));
    }
    if !ctx.hidden_conversations.is_empty() {
        let terms = ctx
            .hidden_conversations
            .iter()
            .map(|id| Term::from_field_i64(fields.conversation_id, *id));
        clauses.push((Occur::MustNot, Box::new(TermSetQuery::new(terms))));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}
