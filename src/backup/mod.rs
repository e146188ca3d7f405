//! Sealed backups and the erasure journal (`lethe backup create|list|verify|restore|prune`,
//! the scheduled backup job).
//!
//! A backup is one file `lethe-<UTC timestamp>.backup` in `LETHE_BACKUP_DIR`: a consistent
//! snapshot of what the data directory holds — the SQLite database (`VACUUM INTO`, taken while
//! Lethe serves), the attachment store and the other files Lethe keeps there (ACME account and
//! certificate) — but not the instance key, the search index (rebuilt on restore) or lock
//! files. On PostgreSQL the database is the operator's (`pg_dump`), and the backup holds the
//! rest. The file is sealed with AES-256-GCM in chunks ([`stream`]) under a key derived from
//! the instance key, or `LETHE_BACKUP_KEY`.
//!
//! Every deletion and anonymization of customer data is appended to the erasure journal
//! ([`journal`]) beside the backups; a restore replays the entries made after its backup was
//! taken ([`replay`]), so nobody erased comes back. Backups older than
//! `LETHE_BACKUP_KEEP_DAYS` are deleted by the job and by `prune` ([`files`]).

pub mod archive;
pub mod create;
pub mod files;
pub mod journal;
pub mod replay;
pub mod restore;
pub mod routes;
pub mod schedule;
/// The sealed chunk format of backup files (it lives in `crypto/`: attachment files use it too).
pub use crate::crypto::stream;

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

pub use journal::Journal;

use crate::config::Config;
use crate::crypto::SecretKey;
use stream::KeySource;

/// The most days a backup may be kept (`LETHE_BACKUP_KEEP_DAYS`): "deleted from backups
/// within 90 days".
pub const MAX_KEEP_DAYS: i64 = 90;
/// How long before its backup a journal entry is still replayed: a deletion is journaled
/// before its transaction commits, so an entry written just before the snapshot started may
/// belong to a deletion the snapshot does not show yet. Replaying a deletion twice is harmless.
pub const REPLAY_MARGIN_MINUTES: i64 = 60;

/// `LETHE_BACKUP_DIR`, `LETHE_BACKUP_KEEP_DAYS`, `LETHE_BACKUP_KEY` (the schedule is with the
/// other jobs').
#[derive(Clone, Debug)]
pub struct BackupConfig {
    /// Where backups and the erasure journal live; None: no backups, no journal.
    pub dir: Option<PathBuf>,
    pub keep_days: i64,
    /// Seals backups instead of a key derived from the instance key.
    pub key: Option<SecretKey>,
    /// The operator set `LETHE_BACKUP_SCHEDULE`: the job's cron decides, and the owners'
    /// schedule page only shows it.
    pub operator_schedule: bool,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: None,
            keep_days: 30,
            key: None,
            operator_schedule: false,
        }
    }
}

impl BackupConfig {
    /// The key that seals new backups, and where it comes from.
    pub fn sealing_key(&self, instance: &SecretKey) -> (SecretKey, KeySource) {
        match &self.key {
            Some(key) => (key.clone(), KeySource::BackupKey),
            None => (instance.derive("lethe-backup"), KeySource::Instance),
        }
    }

    /// The key for a backup sealed by `source`, if it is at hand.
    pub fn opening_key(
        &self,
        instance: Option<&SecretKey>,
        source: KeySource,
    ) -> Option<SecretKey> {
        match source {
            KeySource::Instance => instance.map(|key| key.derive("lethe-backup")),
            KeySource::BackupKey => self.key.clone(),
        }
    }

    /// By when every backup taken before `at` has expired (None without backups).
    pub fn held_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.dir.as_ref()?;
        Some(at + Duration::days(self.keep_days))
    }
}

/// Why a backup command failed. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no backup directory: set LETHE_BACKUP_DIR or give --to DIR")]
    NoDirectory,
    #[error("{0}")]
    Stream(#[from] stream::StreamError),
    #[error("{0}")]
    Archive(#[from] archive::ArchiveError),
    #[error("{0}")]
    Journal(#[from] journal::JournalError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0} already exists")]
    Exists(String),
    #[error(
        "the data directory {0} is not empty: restore fills an empty (or new) directory, so nothing is overwritten"
    )]
    NotEmpty(String),
    #[error(
        "restore needs the instance key the backup was taken under: set LETHE_SECRET_KEY or give --key-file FILE"
    )]
    NoInstanceKey,
    #[error(
        "this backup was taken under another instance key (fingerprint {backup}; the key given has {given}): its attachments and secrets would not open"
    )]
    OtherInstanceKey { backup: String, given: String },
    #[error("{0}")]
    Mismatch(String),
    #[error("{0}")]
    Restore(String),
}

impl BackupError {
    pub(crate) fn io(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.display().to_string();
        move |source| BackupError::Io { what, path, source }
    }
}

/// The instance key as the configuration gives it (`LETHE_SECRET_KEY`, else the data
/// directory's key file, which must exist).
pub fn configured_instance_key(config: &Config) -> Result<SecretKey, BackupError> {
    if let Some(key) = &config.secret_key {
        return Ok(key.clone());
    }
    let path = config.data_dir.join("instance.key");
    let text = std::fs::read_to_string(&path)
        .map_err(BackupError::io("cannot read the key file", &path))?;
    SecretKey::parse(&text).map_err(|reason| {
        BackupError::Restore(format!(
            "the key file {} is not a valid key: {reason}",
            path.display()
        ))
    })
}
