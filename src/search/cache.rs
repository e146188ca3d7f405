//! The ranked conversations of recent searches, so that the next page, going back a page or
//! asking the same question again does not group every match once more.
//!
//! A frequent word matches most of an organization's messages; grouping them by conversation
//! is most of what such a search costs, and it is the same work for page 1 and page 25. An
//! entry keeps the exact total and the first [`KEPT`] conversations of one order (ids, counts,
//! scores, dates and document addresses — no text). It answers only a search on the same
//! index generation (any commit or merge makes a new one; every reload of the reader forgets
//! all entries, and entries of another generation are dropped at the next look-up), for the
//! same organization, parsed query,
//! hidden conversations and — when the query says `assignee:me` — the same user, in the same
//! order. A page beyond the kept conversations is computed afresh.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::collect::Group;
use super::query::{AssigneeFilter, Filter, Query};
use super::results::{Page, SearchContext, page_bounds};
use crate::orgs::OrgId;

/// Conversations kept per entry, in order: 50 pages of 20.
pub(crate) const KEPT: usize = 1_000;
/// Entries kept (least recently used first out).
const ENTRIES: usize = 64;

/// What an answer depends on besides the index generation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    generation: u64,
    org: OrgId,
    query: Query,
    hidden: Vec<i64>,
    me: Option<i64>,
    by_score: bool,
}

impl Key {
    pub(crate) fn new(
        generation: u64,
        org: OrgId,
        query: &Query,
        ctx: &SearchContext,
        by_score: bool,
    ) -> Key {
        let mut hidden = ctx.hidden_conversations.clone();
        hidden.sort_unstable();
        hidden.dedup();
        let uses_me = query
            .filters
            .iter()
            .any(|(_, f)| matches!(f, Filter::Assignee(AssigneeFilter::Me)));
        Key {
            generation,
            org,
            query: query.clone(),
            hidden,
            me: if uses_me { ctx.me } else { None },
            by_score,
        }
    }
}

/// The exact number of matching conversations and the first of them, in order.
#[derive(Debug)]
pub(crate) struct Answer {
    pub total: usize,
    pub first: Vec<(i64, Group)>,
}

impl Answer {
    /// The slice of `page`, or None when it lies beyond the kept conversations.
    pub(crate) fn page(&self, page: Page) -> Option<&[(i64, Group)]> {
        let (start, end) = page_bounds(page, self.total);
        if start >= self.total {
            return Some(&[]);
        }
        if end > self.first.len() {
            return None;
        }
        Some(&self.first[start..end])
    }
}

/// The recent answers (a small least-recently-used list).
#[derive(Default)]
pub(crate) struct ResultCache {
    entries: Mutex<Vec<(Key, Arc<Answer>)>>,
    /// Searches answered from an entry, and by grouping the matches in the index.
    from_cache: AtomicU64,
    from_index: AtomicU64,
}

/// How searches were answered since the server started (for `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnswerCounts {
    /// From the ranked conversations of an earlier search.
    pub cached: u64,
    /// By grouping the matches in the index.
    pub grouped: u64,
}

impl ResultCache {
    /// Counts one search, answered from the cache or not.
    pub(crate) fn count(&self, cached: bool) {
        let counter = if cached {
            &self.from_cache
        } else {
            &self.from_index
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self) -> AnswerCounts {
        AnswerCounts {
            cached: self.from_cache.load(Ordering::Relaxed),
            grouped: self.from_index.load(Ordering::Relaxed),
        }
    }

    /// The answer for `key`, dropping the entries of other index generations.
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Answer>> {
        let mut entries = self.entries.lock().ok()?;
        entries.retain(|(k, _)| k.generation == key.generation);
        let at = entries.iter().position(|(k, _)| k == key)?;
        let entry = entries.remove(at);
        let answer = entry.1.clone();
        entries.push(entry);
        Some(answer)
    }

    /// Forgets every answer (the index changed).
    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// Keeps `answer` for `key`.
    pub(crate) fn put(&self, key: Key, answer: Arc<Answer>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.retain(|(k, _)| k.generation == key.generation && *k != key);
        if entries.len() >= ENTRIES {
            entries.remove(0);
        }
        entries.push((key, answer));
    }
}
