//! `lethe index rebuild` and `lethe index verify`: rebuilding the index from the database,
//! paging by message id, and comparing the two.

use std::sync::Arc;

use super::indexer::IndexerError;
use chrono::Utc;

use super::queue::{self, LogPosition};
use super::{SearchIndex, docs};
use crate::state::AppState;

/// Messages per page while rebuilding.
const PAGE: u64 = 2_000;

/// What a rebuild did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rebuilt {
    pub documents: usize,
}

/// Drops every document and indexes every message of the database again, a page at a time
/// (memory stays bounded by the page and the writer's budget, not by the corpus), and starts
/// following the change log from the last row the rebuild has seen.
pub async fn rebuild(state: &AppState) -> Result<Rebuilt, IndexerError> {
    let _drain = state.search.drain_lock.lock().await;
    rebuild_locked(state).await
}

/// [`rebuild`], for a caller that holds the drain lock.
pub(super) async fn rebuild_locked(state: &AppState) -> Result<Rebuilt, IndexerError> {
    let index = state.search.clone();
    let first = docs::page(&state.db, 0, PAGE).await?;
    if first.is_empty() && index.doc_count() == 0 {
        // Nothing to build (a new node of an empty database): no writer, no commit. Should
        // other nodes prune past this position before this node writes, it builds again.
        let bound = queue::stable_bound(&state.db).await?;
        let last = queue::last_below(&state.db, bound).await?;
        index.set_position(arrived_at(state, last).await?);
        return Ok(Rebuilt { documents: 0 });
    }
    // Only the process that can write the index (not a command beside the running server).
    blocking(&index, |index| index.take_writer()).await?;
    // Recorded first, so that no row after where this node was is pruned while it builds.
    let was = state.search.position().unwrap_or(LogPosition::START);
    queue::record(&state.db, state.leases.node(), was, Utc::now()).await?;
    state.search.heard();
    // Every change before the bound is in the database the pages below read.
    let bound = queue::stable_bound(&state.db).await?;
    let last = queue::last_below(&state.db, bound).await?;
    let mut documents = 0;
    blocking(&index, |index| index.delete_all()).await?;
    let mut page = first;
    while let Some(newest) = page.last() {
        let after = newest.message_id;
        documents += page.len();
        let index = state.search.clone();
        // Only adds: the rebuild started from an empty index (no delete per document).
        tokio::task::spawn_blocking(move || index.insert_new(&page)).await??;
        if state.search.heartbeat_due() {
            queue::record(&state.db, state.leases.node(), was, Utc::now()).await?;
            state.search.heard();
        }
        page = docs::page(&state.db, after, PAGE).await?;
    }
    let position = arrived_at(state, last).await?;
    blocking(&index, move |index| index.commit_at(position)).await?;
    blocking(&index, |index| index.purge_deleted()).await?;
    super::indexer::tell_position(state, position).await?;
    Ok(Rebuilt { documents })
}

/// Where a rebuild that saw the log up to `last` stands: past the pruned rows, too (they are
/// older than the rebuild's bound, so the database it read had them).
async fn arrived_at(
    state: &AppState,
    last: Option<LogPosition>,
) -> Result<LogPosition, IndexerError> {
    let pruned = queue::pruned_through(&state.db).await?;
    Ok(last.unwrap_or(LogPosition::START).max(pruned))
}

/// The comparison of index and database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub database_messages: usize,
    pub index_documents: usize,
    /// Messages in the database without a document.
    pub missing_from_index: Vec<i64>,
    /// Documents whose message the database lacks.
    pub missing_from_database: Vec<i64>,
    /// Change log rows this index has not applied yet (they explain differences while the
    /// server runs).
    pub pending: u64,
}

impl Verification {
    pub fn is_clean(&self) -> bool {
        self.missing_from_index.is_empty() && self.missing_from_database.is_empty()
    }
}

/// Compares message ids in the database and in the index (read-only).
pub async fn verify(state: &AppState) -> Result<Verification, IndexerError> {
    let database = docs::all_message_ids(&state.db, None).await?;
    let position = state.search.position().unwrap_or(LogPosition::START);
    let pending = queue::len_after(&state.db, position).await?;
    let index = state.search.clone();
    let indexed = blocking(&index, |index| {
        index.reload()?;
        index.all_message_ids(None)
    })
    .await?;
    let (missing_from_index, missing_from_database) = differences(&database, &indexed);
    Ok(Verification {
        database_messages: database.len(),
        index_documents: indexed.len(),
        missing_from_index,
        missing_from_database,
        pending,
    })
}

/// Ids only in `a`, and ids only in `b` (both sorted ascending).
fn differences(a: &[i64], b: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(*x);
                i += 1;
            }
            (Some(_), Some(y)) => {
                only_b.push(*y);
                j += 1;
            }
            (Some(x), None) => {
                only_a.push(*x);
                i += 1;
            }
            (None, Some(y)) => {
                only_b.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (only_a, only_b)
}

async fn blocking<T: Send + 'static>(
    index: &Arc<SearchIndex>,
    f: impl FnOnce(&SearchIndex) -> Result<T, super::SearchError> + Send + 'static,
) -> Result<T, IndexerError> {
    let index = index.clone();
    Ok(tokio::task::spawn_blocking(move || f(&index)).await??)
}

#[cfg(test)]
mod tests {
    use super::differences;

    #[test]
    fn differences_of_sorted_ids() {
        assert_eq!(
            differences(&[1, 2, 4, 7], &[2, 3, 4, 8]),
            (vec![1, 7], vec![3, 8])
        );
        assert_eq!(differences(&[], &[]), (vec![], vec![]));
    }
}
