//! The erasure journal: one JSON line per deletion or anonymization of customer data —
//! organization, kind, row ids and the time, never anything of the person — appended to
//! `erasure-journal.jsonl` in `LETHE_BACKUP_DIR`, beside the backups, so it survives the loss
//! of the server. `restore` replays the entries made after its backup was taken
//! (`super::replay`), so an erased person stays erased.
//!
//! [`crate::records`] (deletions) and `crate::retention::anonymize` (anonymizations) append
//! inside the caller's transaction, before it commits: an entry may exist for a deletion whose
//! commit then failed (replaying it deletes what was being deleted anyway), but a committed
//! deletion always has its entry. An entry that cannot be written fails the deletion.
//! Appends and compaction take an exclusive lock on `erasure-journal.lock` (the server and
//! the command line may both write).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::orgs::OrgId;

pub const FILE: &str = "erasure-journal.jsonl";
const LOCK: &str = "erasure-journal.lock";

/// What an entry removed or rewrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Customers with their addresses and every conversation they had.
    Customers,
    /// Conversations with their messages, notes, attachments, tags and outbox rows.
    Conversations,
    /// Single messages (internal notes) with their attachments.
    Messages,
    /// Attachments by id (the messages stay).
    Attachments,
    /// Attachments of these conversations (anonymization keeps the messages).
    AttachmentsOfConversations,
    /// Email addresses of these customers (the records stay).
    EmailAddresses,
    /// Conversations rewritten by the PII detector and moved to a pseudonymous customer.
    AnonymizedConversations,
    /// Customer records given a pseudonym, their contact details cleared.
    AnonymizedCustomers,
    /// Internal notes rewritten by the PII detector.
    AnonymizedNotes,
    /// A duplicate customer (`ids`) merged into another (`into`) and deleted: replayed, so a
    /// later erasure of the kept customer also reaches the duplicate a restore brings back.
    Merged,
    /// Unsent reply drafts by id (the `unsent_drafts` retention rule).
    Drafts,
    /// Conversations (`ids`) merged into another (`into`) and deleted (src/inbox/merge.rs):
    /// replayed, so a later deletion or anonymization of the merged conversation also reaches
    /// what a restore brings back of them.
    ConversationsMerged,
    /// Suggestions by id (the `assist_suggestions` retention rule, *delete*).
    Suggestions,
    /// Suggestions by id whose text was emptied (the same rule, *anonymize*).
    SuggestionsAnonymized,
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub org: i64,
    pub kind: Kind,
    pub ids: Vec<i64>,
    /// For [`Kind::Customers`]: the conversations they had when they went (a conversation
    /// moved to them after a backup is found by id, not only by its customer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversations: Vec<i64>,
    /// For [`Kind::Merged`]: the customer the duplicate went into; for
    /// [`Kind::ConversationsMerged`], the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<i64>,
}

/// Why the journal could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("erasure journal {path}: {source}")]
pub struct JournalError {
    path: String,
    source: std::io::Error,
}

/// Where the entries go: `LETHE_BACKUP_DIR`, or nowhere when backups are not configured.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    dir: Option<PathBuf>,
}

impl Journal {
    pub fn in_dir(dir: Option<&Path>) -> Self {
        Self {
            dir: dir.map(Path::to_path_buf),
        }
    }

    /// A journal that writes nothing (no backups configured).
    pub fn off() -> Self {
        Self::default()
    }

    pub fn path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(FILE))
    }

    /// Appends an entry (nothing when `ids` is empty or the journal is off), fsynced.
    pub async fn record(
        &self,
        org: OrgId,
        kind: Kind,
        ids: &[i64],
        conversations: &[i64],
    ) -> Result<(), JournalError> {
        self.append(Entry {
            at: Utc::now(),
            org: org.get(),
            kind,
            ids: ids.to_vec(),
            conversations: conversations.to_vec(),
            into: None,
        })
        .await
    }

    /// Appends a merge of customer `duplicate` into `kept`.
    pub async fn record_merge(
        &self,
        org: OrgId,
        duplicate: i64,
        kept: i64,
    ) -> Result<(), JournalError> {
        self.append(Entry {
            at: Utc::now(),
            org: org.get(),
            kind: Kind::Merged,
            ids: vec![duplicate],
            conversations: Vec::new(),
            into: Some(kept),
        })
        .await
    }

    /// Appends a merge of conversations `merged` into `target`.
    pub async fn record_conversation_merge(
        &self,
        org: OrgId,
        merged: &[i64],
        target: i64,
    ) -> Result<(), JournalError> {
        self.append(Entry {
            at: Utc::now(),
            org: org.get(),
            kind: Kind::ConversationsMerged,
            ids: merged.to_vec(),
            conversations: Vec::new(),
            into: Some(target),
        })
        .await
    }

    async fn append(&self, entry: Entry) -> Result<(), JournalError> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        if entry.ids.is_empty() {
            return Ok(());
        }
        let error = |source| JournalError {
            path: dir.join(FILE).display().to_string(),
            source,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| error(std::io::Error::other(e)))?;
        line.push(b'\n');
        let target = dir.clone();
        tokio::task::spawn_blocking(move || append(&target, &line))
            .await
            .map_err(|e| error(std::io::Error::other(e)))?
            .map_err(error)
    }

    /// Every entry made at or after `since` (all of them with None).
    pub fn read(&self, since: Option<DateTime<Utc>>) -> Result<Vec<Entry>, JournalError> {
        match &self.dir {
            Some(dir) => read(&dir.join(FILE), since),
            None => Ok(Vec::new()),
        }
    }

    /// Drops the entries made before `before` (no backup that may need them is kept any
    /// more); returns how many went.
    pub fn compact(&self, before: DateTime<Utc>) -> Result<usize, JournalError> {
        let Some(dir) = &self.dir else {
            return Ok(0);
        };
        let path = dir.join(FILE);
        let error = |source| JournalError {
            path: path.display().to_string(),
            source,
        };
        let _lock = lock(dir).map_err(error)?;
        let all = read(&path, None)?;
        let kept: Vec<&Entry> = all.iter().filter(|e| e.at >= before).collect();
        let dropped = all.len() - kept.len();
        if dropped == 0 {
            return Ok(0);
        }
        let tmp = dir.join(format!("{FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut file = create_private(&tmp)?;
            for entry in &kept {
                let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
                line.push(b'\n');
                file.write_all(&line)?;
            }
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(error)?;
        Ok(dropped)
    }
}

fn lock(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))?;
    file.lock()?;
    Ok(file)
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn append(dir: &Path, line: &[u8]) -> std::io::Result<()> {
    let _lock = lock(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(dir.join(FILE))?;
    file.write_all(line)?;
    file.sync_data()
}

fn read(path: &Path, since: Option<DateTime<Utc>>) -> Result<Vec<Entry>, JournalError> {
    let error = |source| JournalError {
        path: path.display().to_string(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(error(e)),
    };
    let mut out = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(error)?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(&line) {
            Ok(entry) if since.is_none_or(|since| entry.at >= since) => out.push(entry),
            Ok(_) => {}
            // A line cut by a crash mid-append: its deletion never committed either.
            Err(_) => tracing::warn!(
                line = number + 1,
                "erasure journal: unreadable line skipped"
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_appended_read_back_and_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(Some(dir.path()));
        let org = OrgId::from_db(7);
        journal
            .record(org, Kind::Customers, &[1, 2], &[10])
            .await
            .unwrap();
        journal.record(org, Kind::Messages, &[], &[]).await.unwrap();
        let middle = Utc::now();
        journal
            .record(org, Kind::Conversations, &[3], &[])
            .await
            .unwrap();
        let all = journal.read(None).unwrap();
        assert_eq!(all.len(), 2, "an empty entry is not written");
        assert_eq!(all[0].conversations, vec![10]);
        assert_eq!(journal.read(Some(middle)).unwrap().len(), 1);
        assert_eq!(journal.compact(middle).unwrap(), 1);
        assert_eq!(journal.read(None).unwrap()[0].kind, Kind::Conversations);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.contains("\"conversations\""), "{text}");
    }

    #[tokio::test]
    async fn a_journal_that_is_off_writes_nothing() {
        let journal = Journal::off();
        journal
            .record(OrgId::from_db(1), Kind::Customers, &[1], &[])
            .await
            .unwrap();
        assert!(journal.read(None).unwrap().is_empty());
    }
}
