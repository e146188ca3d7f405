//! One poll of one channel: SELECT the folder, notice a UIDVALIDITY change (start over from
//! UID 1; duplicates are caught by `(organization, Message-ID)`), fetch new messages in
//! batches, store each, and only then mark it `\Seen` or move it and advance the channel's
//! last UID. A database failure stops the poll without acknowledging anything.

use std::collections::HashMap;

use chrono::Utc;
use futures::TryStreamExt;

use super::connect::{self, ImapSession, STEP_TIMEOUT, folder_problem, server_text};
use super::{ImapProblem, Stage};
use crate::db::entity::channel;
use crate::mail::MailError;
use crate::mail::channel::{self as channels, ImapSettings};
use crate::mail::ingest::{self, Outcome, Source};
use crate::state::AppState;

/// How many messages are fetched (and held in memory) at once.
pub const BATCH: usize = 25;

/// A message's UID and its size in bytes, as the server counts it.
type UidSize = (u32, u32);

/// What one poll did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PollOutcome {
    pub stored: usize,
    /// Already stored, or sent from one of the organization's own addresses.
    pub duplicates: usize,
    /// Not email (or no sender): left in the mailbox, flagged `\Seen`.
    pub rejected: usize,
    /// Larger than `LETHE_MAX_MESSAGE_MB` by the server's `RFC822.SIZE`: `(uid, bytes)`, not
    /// fetched, left unread in the mailbox.
    pub too_large: Vec<UidSize>,
    /// The folder's UIDVALIDITY changed, so the poll started over from UID 1.
    pub uid_validity_reset: bool,
}

/// Polls the channel's mailbox once and records the result (`last_poll_at`, `last_error`)
/// on the channel. A channel without IMAP settings polls nothing.
pub async fn poll_once(
    state: &AppState,
    channel: &channel::Model,
) -> Result<PollOutcome, ImapProblem> {
    let result = run(state, channel).await;
    let note = match &result {
        Ok(outcome) => notes(outcome, state.config.max_message_bytes),
        Err(problem) => Some(problem.stored_text()),
    };
    if let Err(problem) = &result {
        tracing::warn!(
            channel_id = channel.id,
            stage = problem.stage.code(),
            "IMAP poll failed"
        );
    }
    if let Err(error) = channels::record_poll(&state.db, channel.id, Utc::now(), note).await {
        tracing::error!(channel_id = channel.id, %error, "could not record the poll");
    }
    result
}

/// What a poll that worked has to tell the admin: messages it left in the mailbox, and why.
pub(super) fn notes(outcome: &PollOutcome, max_bytes: usize) -> Option<String> {
    let mut notes = Vec::new();
    if outcome.rejected > 0 {
        notes.push(format!(
            "rejected: {} message(s) are not email Lethe can import; they were left in the \
             mailbox, marked as read",
            outcome.rejected
        ));
    }
    if !outcome.too_large.is_empty() {
        let sizes: Vec<String> = outcome
            .too_large
            .iter()
            .map(|(uid, bytes)| format!("UID {uid}: {}", megabytes(*bytes as usize)))
            .collect();
        notes.push(format!(
            "too large: {} message(s) are over LETHE_MAX_MESSAGE_MB ({}) and were not fetched; \
             they were left unread in the mailbox ({})",
            outcome.too_large.len(),
            megabytes(max_bytes),
            sizes.join(", ")
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

async fn run(state: &AppState, channel: &channel::Model) -> Result<PollOutcome, ImapProblem> {
    let Some((mut session, settings)) = connect::open_for_channel(state, channel).await? else {
        return Ok(PollOutcome::default());
    };
    let result = fetch_new(state, channel, &settings, &mut session).await;
    let _ = tokio::time::timeout(STEP_TIMEOUT, session.logout()).await;
    result
}

fn fetch_problem(error: async_imap::error::Error) -> ImapProblem {
    use async_imap::error::Error;
    match error {
        Error::No(text) | Error::Bad(text) => ImapProblem::new(Stage::Fetch, server_text(&text)),
        other => ImapProblem::new(Stage::Fetch, other.to_string()),
    }
}

fn store_problem() -> ImapProblem {
    ImapProblem::new(Stage::Store, "the database did not accept it")
}

/// What the server can do, read once per poll.
struct Capabilities {
    r#move: bool,
    uidplus: bool,
}

pub(super) async fn fetch_new(
    state: &AppState,
    channel: &channel::Model,
    settings: &ImapSettings,
    session: &mut ImapSession,
) -> Result<PollOutcome, ImapProblem> {
    let mailbox = session
        .select(&settings.folder)
        .await
        .map_err(|e| folder_problem(&settings.folder, e))?;
    let validity = mailbox.uid_validity.map(i64::from);
    let mut outcome = PollOutcome::default();
    let mut last_uid = channel.imap_last_uid;
    if channel.imap_uid_validity != validity {
        outcome.uid_validity_reset = channel.imap_uid_validity.is_some();
        last_uid = 0;
        channels::set_imap_progress(&state.db, channel.id, validity, 0)
            .await
            .map_err(|_| store_problem())?;
    }
    let capabilities = session.capabilities().await.map_err(fetch_problem)?;
    let capabilities = Capabilities {
        r#move: capabilities.has_str("MOVE"),
        uidplus: capabilities.has_str("UIDPLUS"),
    };
    let first = u32::try_from(last_uid + 1).unwrap_or(u32::MAX);
    // `N:*` always matches the newest message, even when its UID is below N: filter.
    let mut uids: Vec<u32> = session
        .uid_search(format!("UID {first}:*"))
        .await
        .map_err(fetch_problem)?
        .into_iter()
        .filter(|uid| i64::from(*uid) > last_uid)
        .collect();
    uids.sort_unstable();

    let source = Source {
        org: channel.organization_id,
        channel_id: Some(channel.id),
        keep_original_date: false,
    };
    let max_bytes = state.config.max_message_bytes;
    for batch in uids.chunks(BATCH) {
        // Sizes first: a message over the limit is never read into memory.
        let sizes: HashMap<u32, u32> = session
            .uid_fetch(uid_set(batch), "(UID RFC822.SIZE)")
            .await
            .map_err(fetch_problem)?
            .try_filter_map(|fetch| async move { Ok(fetch.uid.zip(fetch.size)) })
            .try_collect()
            .await
            .map_err(fetch_problem)?;
        // A message the server gave no size for is fetched (the limit is checked on its body).
        let (too_large, fitting): (Vec<UidSize>, Vec<UidSize>) = batch
            .iter()
            .map(|uid| (*uid, sizes.get(uid).copied().unwrap_or(0)))
            .partition(|(_, size)| *size as usize > max_bytes);
        for (uid, size) in &too_large {
            tracing::warn!(
                channel_id = channel.id,
                uid,
                size,
                "message over the size limit left on the server"
            );
        }
        outcome.too_large.extend(too_large.iter().copied());
        let fitting: Vec<u32> = fitting.into_iter().map(|(uid, _)| uid).collect();
        if fitting.is_empty() {
            if let Some((uid, _)) = too_large.iter().max() {
                channels::set_imap_progress(&state.db, channel.id, validity, i64::from(*uid))
                    .await
                    .map_err(|_| store_problem())?;
            }
            continue;
        }
        // BODY.PEEK[] does not set \Seen: the flag is set after the message is committed.
        let mut fetched: Vec<(u32, Vec<u8>)> = session
            .uid_fetch(uid_set(&fitting), "(UID BODY.PEEK[])")
            .await
            .map_err(fetch_problem)?
            .try_filter_map(|fetch| async move {
                Ok(fetch
                    .uid
                    .zip(fetch.body().map(<[u8]>::to_vec))
                    .filter(|(uid, _)| i64::from(*uid) > last_uid))
            })
            .try_collect()
            .await
            .map_err(fetch_problem)?;
        fetched.sort_unstable_by_key(|(uid, _)| *uid);
        for (uid, raw) in fetched {
            match ingest::ingest_raw(state, source, raw).await {
                Ok(Outcome::Stored { .. }) => {
                    outcome.stored += 1;
                    acknowledge(session, settings, &capabilities, uid).await?;
                }
                Ok(Outcome::Duplicate | Outcome::OwnMail) => {
                    outcome.duplicates += 1;
                    acknowledge(session, settings, &capabilities, uid).await?;
                }
                Ok(Outcome::Rejected(reason)) => {
                    outcome.rejected += 1;
                    tracing::info!(channel_id = channel.id, uid, %reason, "message rejected");
                    mark(session, uid, "\\Seen").await?;
                }
                Err(error) => {
                    // Not acknowledged: the message is fetched again on the next poll. The
                    // error's text is not logged: a database may quote the row it refused.
                    let kind = match error {
                        MailError::Database(_) => "database",
                        MailError::ConversationNotFound
                        | MailError::Sealed(_)
                        | MailError::Blob(_)
                        | MailError::MissingAfterInsert(_)
                        | MailError::Task(_) => "internal",
                    };
                    tracing::error!(channel_id = channel.id, uid, kind, "message not stored");
                    return Err(store_problem());
                }
            }
            channels::set_imap_progress(&state.db, channel.id, validity, i64::from(uid))
                .await
                .map_err(|_| store_problem())?;
        }
        // A message over the limit after the last stored one is passed too.
        if let Some((uid, _)) = too_large.iter().max()
            && fitting.iter().max().is_none_or(|last| uid > last)
        {
            channels::set_imap_progress(&state.db, channel.id, validity, i64::from(*uid))
                .await
                .map_err(|_| store_problem())?;
        }
    }
    Ok(outcome)
}

/// `1,5,7`: an IMAP UID set.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Tells the server the message is safe in Lethe: flag it seen, or move it.
async fn acknowledge(
    session: &mut ImapSession,
    settings: &ImapSettings,
    capabilities: &Capabilities,
    uid: u32,
) -> Result<(), ImapProblem> {
    let Some(target) = &settings.move_to else {
        return mark(session, uid, "\\Seen").await;
    };
    let uid_text = uid.to_string();
    if capabilities.r#move {
        return session
            .uid_mv(&uid_text, target)
            .await
            .map_err(|e| folder_problem(target, e));
    }
    session
        .uid_copy(&uid_text, target)
        .await
        .map_err(|e| folder_problem(target, e))?;
    mark(session, uid, "\\Seen \\Deleted").await?;
    if capabilities.uidplus {
        answered(session.uid_expunge(&uid_text).await).await?;
    }
    // Without UIDPLUS the only expunge is the folder-wide EXPUNGE, which would also remove
    // every other message someone flagged \Deleted: the copy is made, this one stays flagged
    // (seen and deleted) until the mailbox's own client or policy expunges it.
    Ok(())
}

async fn mark(session: &mut ImapSession, uid: u32, flags: &str) -> Result<(), ImapProblem> {
    answered(
        session
            .uid_store(uid.to_string(), format!("+FLAGS.SILENT ({flags})"))
            .await,
    )
    .await
}

/// Reads a command's streamed answers to the end (STORE, EXPUNGE): the command is done only
/// when the server has answered.
async fn answered<T>(
    answers: Result<
        impl futures::Stream<Item = Result<T, async_imap::error::Error>>,
        async_imap::error::Error,
    >,
) -> Result<(), ImapProblem> {
    answers
        .map_err(fetch_problem)?
        .try_collect::<Vec<_>>()
        .await
        .map_err(fetch_problem)?;
    Ok(())
}
