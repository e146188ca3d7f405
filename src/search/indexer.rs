//! The indexer: drains the `search_queue` table into the Tantivy index.
//!
//! Each batch is read in id order, turned into documents from the current database state
//! (a message or conversation that no longer exists is deleted from the index), committed to
//! the index, and only then removed from the queue. A crash anywhere in between leaves the
//! rows in the queue, and the next drain (at the next start at the latest) does the work again;
//! re-doing it is harmless because every update is delete-by-id + add. When a batch changed
//! or removed text, the index is purged so the old text leaves the index files.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::queue::{self, Target};
use super::{SearchError, SearchIndex, docs};
use crate::app::AppState;

/// Queue rows per batch (one index commit each).
const BATCH: u64 = 5_000;
/// How often the background task looks at the queue.
const POLL: Duration = Duration::from_millis(250);

/// Why a drain stopped.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("search queue: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("the index task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Drains the whole queue; returns the number of queue rows processed.
pub async fn run_once(state: &AppState) -> Result<usize, IndexerError> {
    let _drain = state.search.drain_lock.lock().await;
    let mut total = 0;
    loop {
        let rows = queue::next_batch(&state.db, BATCH).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let mut messages = BTreeSet::new();
        let mut conversations = BTreeSet::new();
        let mut purge = false;
        for row in &rows {
            match row.target {
                Target::Message(id) if id > 0 => {
                    messages.insert(id);
                }
                Target::Message(_) => {}
                Target::Conversation(id) => {
                    conversations.insert(id);
                }
            }
            purge |= row.removes_text;
        }
        let conversations: Vec<i64> = conversations.into_iter().collect();
        let mut documents = docs::by_conversations(&state.db, &conversations).await?;
        let covered: BTreeSet<i64> = documents.iter().map(|d| d.message_id).collect();
        let messages: Vec<i64> = messages.difference(&covered).copied().collect();
        documents.extend(docs::by_messages(&state.db, &messages).await?);

        let index = state.search.clone();
        tokio::task::spawn_blocking(move || {
            apply(&index, &conversations, &messages, &documents, purge)
        })
        .await??;

        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        queue::remove(&state.db, &ids).await?;
        total += rows.len();
        tracing::debug!(rows = rows.len(), purge, "search index updated");
    }
}

/// Applies one batch to the index: conversation and message documents are removed, the
/// current ones added, then committed (and purged when text went away).
fn apply(
    index: &SearchIndex,
    conversations: &[i64],
    messages: &[i64],
    documents: &[super::MessageDoc],
    purge: bool,
) -> Result<(), SearchError> {
    index.delete_conversations(conversations)?;
    index.delete_messages(messages)?;
    index.upsert(documents)?;
    if purge {
        index.purge_deleted()
    } else {
        index.commit()
    }
}

/// Starts the background indexer: it drains the queue now (catching up after a crash) and
/// then every [`POLL`]. A failed drain is logged and retried.
pub fn spawn_indexer(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            match run_once(&state).await {
                Ok(0) => failures = 0,
                Ok(rows) => {
                    failures = 0;
                    tracing::info!(rows, "search index caught up");
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::error!(%error, failures, "search indexing failed; retrying");
                }
            }
            let backoff = POLL * 2u32.saturating_pow(failures.min(6));
            tokio::time::sleep(backoff).await;
        }
    })
}
