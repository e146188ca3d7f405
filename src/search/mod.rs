//! Search: the only module that touches Tantivy.
//!
//! - [`SearchIndex`] owns the index in `data_dir/index`, its writer and its reader; every
//!   search takes the caller's [`OrgId`](crate::orgs::OrgId), so no query can cross tenants.
//! - [`Query`] is the agent-facing query language (`words "phrases" -excluded from: tag: …`).
//! - [`indexer`] follows the change log (`search_queue`) that database triggers fill in the
//!   same transaction as every change, from this node's position in it, so the index never
//!   falls out of step with the database — on every node (`queue`).
//! - [`maintenance`] rebuilds and verifies the index (`lethe index rebuild|verify`).
//! - [`routes`] serves `/search`.
//! - [`ArticleSearch`]: the knowledge base's articles, one small index per organization in
//!   memory, rebuilt when the organization's knowledge version changes (`articles`).

mod analysis;
mod articles;
mod cache;
mod collect;
mod compile;
mod docs;
mod error;
mod forward;
mod index;
pub mod indexer;
pub mod maintenance;
mod org_scope;
mod query;
mod queue;
mod results;
pub mod routes;
mod schema;

pub use analysis::Lang;
pub use articles::{ArticleDoc, ArticleFilter, ArticleHit, ArticleSearch};
pub use cache::AnswerCounts;
pub use error::SearchError;
pub use index::{MessageDoc, SearchIndex, SearchOptions};
pub use query::{AssigneeFilter, Filter, Query, QueryError, TextTerm};
pub use results::{ConversationHit, Page, SearchContext, SearchResults, Sort};

/// The language most of `texts` (subject, body) are written in, among those that can be told;
/// None when none can (the export's README speaks the customer's language with it).
pub fn main_language<'a>(texts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Lang> {
    let detector = analysis::LanguageDetector::new();
    let mut votes = [0usize; Lang::ALL.len()];
    for (subject, body) in texts {
        if let Some(lang) = detector.detect_known(subject, body) {
            votes[lang.index()] += 1;
        }
    }
    Lang::ALL
        .into_iter()
        .filter(|l| votes[l.index()] > 0)
        .max_by_key(|l| votes[l.index()])
}

/// How many changes in the change log wait for this node's indexer (for `/metrics`).
pub async fn queue_depth(
    db: &impl sea_orm::ConnectionTrait,
    index: &SearchIndex,
) -> Result<u64, sea_orm::DbErr> {
    queue::len_after(db, index.position().unwrap_or(queue::LogPosition::START)).await
}
