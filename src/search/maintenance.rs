//! `lethe index rebuild` and `lethe index verify`: rebuilding the index from the database,
//! paging by message id, and comparing the two.

use std::sync::Arc;

use super::indexer::IndexerError;
use super::{SearchIndex, docs, queue};
use crate::state::AppState;

/// Messages per page while rebuilding.
const PAGE: u64 = 2_000;

/// What a rebuild did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rebuilt {
    pub documents: usize,
}

/// Drops every document and indexes every message of the database again, a page at a time
/// (memory stays bounded by the page and the writer's budget, not by the corpus). Queue rows
/// that existed when the rebuild started are removed afterwards (the rebuild read newer data).
pub async fn rebuild(state: &AppState) -> Result<Rebuilt, IndexerError> {
    let _drain = state.search.drain_lock.lock().await;
    let queued_before = queue::max_id(&state.db).await?;
    let index = state.search.clone();
    blocking(&index, |index| index.delete_all()).await?;
    let mut after = 0;
    let mut documents = 0;
    loop {
        let page = docs::page(&state.db, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.message_id;
        documents += page.len();
        let index = state.search.clone();
        tokio::task::spawn_blocking(move || index.insert_new(&page)).await??;
    }
    blocking(&index, |index| index.purge_deleted()).await?;
    queue::remove_up_to(&state.db, queued_before).await?;
    Ok(Rebuilt { documents })
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
    /// Queue rows not yet applied (they explain differences while the server runs).
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
    let pending = queue::len(&state.db).await?;
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
