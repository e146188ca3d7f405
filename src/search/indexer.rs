//! The indexer: follows the search change log (`search_queue`, see [`super::queue`]) into
//! this node's Tantivy index.
//!
//! Each batch is read from the index's position on, turned into documents from the current
//! database state (a message or conversation that no longer exists is deleted from the index),
//! and committed to the index together with the new position. A crash anywhere in between
//! leaves the position where it was, and the next drain (at the next start at the latest)
//! does the work again; re-doing it is harmless because every update is delete-by-id + add.
//! Then the node records its position, and rows every live node has passed are pruned. When
//! a batch changed or removed text, the index is purged so the old text leaves the index
//! files. A new index, or one behind the pruned log, is built from the database instead.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::queue::{self, LogPosition, Target};
use super::{SearchError, SearchIndex, docs, maintenance};
use crate::state::AppState;

/// Queue rows read and applied at a time.
const BATCH: u64 = 5_000;
/// A drain commits after this many applied rows...
const COMMIT_ROWS: usize = 50_000;
/// ...or this long after the first uncommitted one, whichever comes first.
const COMMIT_EVERY: Duration = Duration::from_secs(2);
/// How often the background task looks at the queue.
const POLL: Duration = Duration::from_millis(250);
/// A node whose position did not move says it is alive this often.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(60);
/// The background purge waits for the queue to be quiet this long...
const PURGE_QUIET: Duration = Duration::from_secs(2);
/// ...but no longer than this after the first removal it has not purged.
const PURGE_AT_LATEST: Duration = Duration::from_secs(120);
/// The writer is closed (its threads and arenas freed, the free heap handed back) once the
/// queue has been empty this long; a steady trickle of mail or chat keeps it open.
const RELEASE_IDLE: Duration = Duration::from_secs(5);

/// Why a drain stopped.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("search queue: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("the index task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Rows committed before the drain began still wait behind a transaction that has run
    /// longer than [`WAIT_FOR_OLDER`]: the index does not yet reflect them. The indexer drains
    /// them once that transaction ends.
    #[error("the search index is behind: an older transaction still runs")]
    Behind,
}

/// Drains the whole queue and, when text went away, purges the index once at the end;
/// returns the number of queue rows processed. Callers that promise "deleted means gone"
/// (erasure, retention, rectification, the tests) use this.
pub async fn run_once(state: &AppState) -> Result<usize, IndexerError> {
    let drained = drain_all(state).await?;
    if drained.removed_text {
        purge(state).await?;
    }
    Ok(drained.rows)
}

/// What one drain did.
#[derive(Clone, Copy, Debug, Default)]
struct Drained {
    rows: usize,
    /// A row removed or rewrote text: the index holds deleted documents until purged.
    removed_text: bool,
}

/// Brings the index in line with the change log without purging. Batches are applied as they
/// are read; a commit makes them visible (deleted documents stop matching) and records the
/// position they reach; then the node tells the database where it is, and rows every node
/// has passed are pruned. A new index, or one behind the pruned rows, is rebuilt instead.
/// A backlog is committed every [`COMMIT_ROWS`] rows or [`COMMIT_EVERY`],
/// whichever comes first, rather than after every batch: each commit flushes small segments
/// that the writer has to merge again (a 1M-message queue drains at about 12,700 messages/s
/// this way, 9,000 committing every batch).
async fn drain(state: &AppState) -> Result<Drained, IndexerError> {
    let _drain = state.search.drain_lock.lock().await;
    let pruned = queue::pruned_through(&state.db).await?;
    let mut position = match state.search.position() {
        Some(position) if position >= pruned => position,
        // New, or behind rows that were pruned before it read them.
        _ => {
            maintenance::rebuild_locked(state).await?;
            return Ok(Drained::default());
        }
    };
    let start = position;
    let bound = queue::stable_bound(&state.db).await?;
    let mut drained = Drained::default();
    // Rows applied to the writer but not committed yet.
    let mut applied = 0usize;
    let mut applied_since = Instant::now();
    loop {
        let rows = queue::next_batch(&state.db, position, bound, BATCH).await?;
        let last_batch = rows.len() < BATCH as usize;
        if let Some(last) = rows.last() {
            position = last.position;
            drained.removed_text |= rows.iter().any(|row| row.removes_text);
            apply_batch(state, &rows).await?;
            if applied == 0 {
                applied_since = Instant::now();
            }
            applied += rows.len();
        }
        let commit_due =
            last_batch || applied >= COMMIT_ROWS || applied_since.elapsed() >= COMMIT_EVERY;
        if commit_due && applied > 0 {
            let index = state.search.clone();
            tokio::task::spawn_blocking(move || index.commit_at(position)).await??;
            drained.rows += applied;
            tracing::debug!(rows = applied, "search index updated");
            applied = 0;
        }
        if last_batch {
            break;
        }
    }
    // A node that moved says so; one that did not, that it is alive — if it holds the index
    // (a command run beside the server does not speak for a node).
    if position != start || (state.search.heartbeat_due() && state.search.has_writer()) {
        tell_position(state, position).await?;
    }
    Ok(drained)
}

/// How long [`drain_all`] waits for transactions older than the rows committed already.
const WAIT_FOR_OLDER: Duration = Duration::from_secs(5);

/// Drains every row committed when it is called: rows whose older transactions still run
/// (on PostgreSQL) are waited for, a few milliseconds as a rule, at most [`WAIT_FOR_OLDER`];
/// after that it answers [`IndexerError::Behind`] rather than claim the rows are drained.
async fn drain_all(state: &AppState) -> Result<Drained, IndexerError> {
    let target = queue::last_below(&state.db, i64::MAX).await?;
    let started = Instant::now();
    let mut total = Drained::default();
    loop {
        let drained = drain(state).await?;
        total.rows += drained.rows;
        total.removed_text |= drained.removed_text;
        let reached = match (target, state.search.position()) {
            (None, _) => true,
            (Some(target), Some(position)) => position >= target,
            (Some(_), None) => false,
        };
        if reached {
            return Ok(total);
        }
        if started.elapsed() >= WAIT_FOR_OLDER {
            return Err(IndexerError::Behind);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Records this node's position in the log and prunes what every live node has passed.
pub(super) async fn tell_position(
    state: &AppState,
    position: LogPosition,
) -> Result<(), IndexerError> {
    let now = Utc::now();
    queue::record(&state.db, state.leases.node(), position, now).await?;
    state.search.heard();
    queue::prune(&state.db, now).await?;
    Ok(())
}

/// Builds a new index (or one behind the pruned log) from the database before the node
/// serves; true when it did.
pub async fn build_if_needed(state: &AppState) -> Result<bool, IndexerError> {
    let _drain = state.search.drain_lock.lock().await;
    let pruned = queue::pruned_through(&state.db).await?;
    match state.search.position() {
        Some(position) if position >= pruned => Ok(false),
        _ => {
            let rebuilt = maintenance::rebuild_locked(state).await?;
            if rebuilt.documents > 0 {
                tracing::info!(
                    documents = rebuilt.documents,
                    "search index built from the database"
                );
            }
            Ok(true)
        }
    }
}

/// Applies one batch of queue rows to the writer (not committed): the documents of the
/// messages and conversations they name are rebuilt from the database, and those the
/// database no longer has are deleted.
async fn apply_batch(state: &AppState, rows: &[queue::QueueRow]) -> Result<(), IndexerError> {
    let mut messages = BTreeSet::new();
    let mut conversations = BTreeSet::new();
    for row in rows {
        match row.target {
            Target::Message(id) if id > 0 => {
                messages.insert(id);
            }
            Target::Message(_) => {}
            Target::Conversation(id) => {
                conversations.insert(id);
            }
        }
    }
    let conversations: Vec<i64> = conversations.into_iter().collect();
    let mut documents = docs::by_conversations(&state.db, &conversations).await?;
    let covered: BTreeSet<i64> = documents.iter().map(|d| d.message_id).collect();
    let messages: Vec<i64> = messages.difference(&covered).copied().collect();
    documents.extend(docs::by_messages(&state.db, &messages).await?);
    let index = state.search.clone();
    tokio::task::spawn_blocking(move || apply(&index, &conversations, &messages, &documents))
        .await??;
    Ok(())
}

/// Rewrites the segments that hold deleted documents, so their text leaves the index files.
/// It holds the drain lock, as every caller must: a purge replaces the writer, and a drain
/// between two batches has applied documents to that writer that it has not committed yet.
pub async fn purge(state: &AppState) -> Result<(), IndexerError> {
    let _drain = state.search.drain_lock.lock().await;
    let index = state.search.clone();
    tokio::task::spawn_blocking(move || index.purge_deleted()).await??;
    // The purge closed the writer: what it and the job before it held is free now.
    crate::memory::after_job(&state.db).await;
    Ok(())
}

/// How [`settle`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The queue is drained and the removed text has left the index files.
    Done,
    /// Another process (the running server) holds the index: its indexer drains the durable
    /// queue and purges within a second or two.
    HeldElsewhere,
}

/// After rows were deleted or rewritten: drains the queue the database triggers filled and
/// purges the index, so the old text leaves the index files. Erasure, rectification,
/// retention and organization purge call this; the command line, while the server runs, is
/// answered [`Settled::HeldElsewhere`] instead of an error.
pub async fn settle(state: &AppState) -> Result<Settled, IndexerError> {
    let outcome = async {
        // Behind: what was drained is still purged, then the caller hears that the rest is not.
        let drained = drain_all(state).await;
        if matches!(drained, Err(IndexerError::Behind)) {
            purge(state).await?;
        }
        drained?;
        purge(state).await
    }
    .await;
    match outcome {
        Ok(()) => Ok(Settled::Done),
        Err(IndexerError::Search(error)) if error.is_lock_held_elsewhere() => {
            Ok(Settled::HeldElsewhere)
        }
        Err(error) => Err(error),
    }
}

/// Removes every document of an organization that is being purged and purges the segments
/// that held them (after [`settle`], so no queued row brings one back).
pub async fn forget_organization(
    state: &AppState,
    org: crate::orgs::OrgId,
) -> Result<Settled, IndexerError> {
    let settled = settle(state).await?;
    if settled == Settled::HeldElsewhere {
        return Ok(settled);
    }
    let _drain = state.search.drain_lock.lock().await;
    let index = state.search.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        index.delete_org(org)?;
        index.purge_deleted()
    })
    .await?;
    match outcome {
        Ok(()) => Ok(Settled::Done),
        Err(error) if error.is_lock_held_elsewhere() => Ok(Settled::HeldElsewhere),
        Err(error) => Err(error.into()),
    }
}

/// Applies one batch to the writer: conversation and message documents are removed and the
/// current ones added (visible at the next commit).
fn apply(
    index: &SearchIndex,
    conversations: &[i64],
    messages: &[i64],
    documents: &[super::MessageDoc],
) -> Result<(), SearchError> {
    index.delete_conversations(conversations)?;
    index.delete_messages(messages)?;
    index.upsert(documents)
}

/// Closes the writer when it has nothing uncommitted (under the drain lock, so no drain is
/// half-applied) and hands the freed memory back; returns whether it was open.
async fn release(state: &AppState) -> Result<bool, IndexerError> {
    let _drain = state.search.drain_lock.lock().await;
    let index = state.search.clone();
    let released = tokio::task::spawn_blocking(move || index.release_writer()).await??;
    if released {
        crate::memory::after_job(&state.db).await;
    }
    Ok(released)
}

/// Starts the background indexer: it claims the index for this process (the owner lock, held
/// until the process ends, so that commands are told a server writes it), drains the queue now
/// (catching up after a crash) and then every [`POLL`]; a failed drain is logged and retried.
/// The writer is closed after [`RELEASE_IDLE`] without work. Deleted documents stop matching
/// at each drain's commit; their text leaves the index files at the purge, which waits until
/// the queue has been quiet for [`PURGE_QUIET`] (at most [`PURGE_AT_LATEST`] after the first
/// removal): rewriting the segments after every drain would make a large retention run or
/// erasure merge the whole index again and again. A purge is due at start too, for removals a
/// crash left unpurged.
pub fn spawn_indexer(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failures = 0u32;
        let mut purge_pending_since = Some(Instant::now());
        let mut last_rows_at = Instant::now();
        loop {
            let claimed = state.search.claim().map_err(IndexerError::from);
            let result = match claimed.and(drain(&state).await) {
                Ok(drained) => {
                    if drained.rows > 0 {
                        tracing::info!(rows = drained.rows, "search index caught up");
                        last_rows_at = Instant::now();
                    }
                    if drained.rows >= COMMIT_ROWS {
                        // A backlog (an import, another process's retention run) was large.
                        crate::memory::after_job(&state.db).await;
                    }
                    if drained.removed_text {
                        purge_pending_since.get_or_insert_with(Instant::now);
                    }
                    match purge_pending_since {
                        Some(since)
                            if last_rows_at.elapsed() >= PURGE_QUIET
                                || since.elapsed() >= PURGE_AT_LATEST =>
                        {
                            purge(&state).await.map(|()| purge_pending_since = None)
                        }
                        None if last_rows_at.elapsed() >= RELEASE_IDLE
                            && state.search.writer_is_open() =>
                        {
                            release(&state).await.map(|_| ())
                        }
                        _ => Ok(()),
                    }
                }
                Err(error) => Err(error),
            };
            match result {
                Ok(()) => failures = 0,
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
