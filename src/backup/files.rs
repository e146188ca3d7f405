//! Backup files in their directory: the name `lethe-<UTC timestamp>.backup` carries when the
//! backup was taken, which is what listing and expiry go by (not the file's mtime, which a
//! copy changes). Pruning deletes the backups older than `LETHE_BACKUP_KEEP_DAYS` and drops
//! the journal entries no kept backup can need.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;

use super::{BackupError, Journal, REPLAY_MARGIN_MINUTES};

const PREFIX: &str = "lethe-";
const SUFFIX: &str = ".backup";
const STAMP: &str = "%Y%m%dT%H%M%SZ";
/// A `.partial` file this old is a backup that was cut short (a crash): prune removes it.
const PARTIAL_HOURS: i64 = 24;

/// `lethe-20261205T183107Z.backup`.
pub fn file_name(taken_at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", taken_at.format(STAMP))
}

/// When the backup named `name` was taken; None for any other file.
pub fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
}

/// One backup in the directory.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub taken_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub bytes: u64,
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path, keep_days: i64) -> Result<Vec<Listed>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::io("cannot read the backup directory", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(taken_at) = taken_at(&name) else {
            continue;
        };
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        out.push(Listed {
            path: entry.path(),
            name,
            taken_at,
            expires_at: taken_at + Duration::days(keep_days),
            bytes,
        });
    }
    out.sort_by_key(|b| b.taken_at);
    Ok(out)
}

/// What a prune did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Pruned {
    /// The expired backups deleted (file names).
    pub removed: Vec<String>,
    pub kept: usize,
    /// Leftovers of backups cut short.
    pub partial_files: usize,
    pub journal_entries_dropped: usize,
}

/// Deletes the backups in `dir` taken more than `keep_days` before `now`, leftovers of
/// interrupted backups, and the journal entries older than any kept backup could need.
pub fn prune(
    dir: &Path,
    keep_days: i64,
    journal: &Journal,
    now: DateTime<Utc>,
) -> Result<Pruned, BackupError> {
    let mut pruned = Pruned::default();
    for backup in list(dir, keep_days)? {
        if backup.expires_at <= now {
            std::fs::remove_file(&backup.path).map_err(BackupError::io(
                "cannot delete the expired backup",
                &backup.path,
            ))?;
            tracing::info!(backup = %backup.name, "expired backup deleted");
            pruned.removed.push(backup.name);
        } else {
            pruned.kept += 1;
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| DateTime::<Utc>::from(t) < now - Duration::hours(PARTIAL_HOURS))
                .unwrap_or(false);
            if name.starts_with(&format!(".{PREFIX}")) && name.ends_with(".partial") && old {
                std::fs::remove_file(entry.path()).ok();
                pruned.partial_files += 1;
            }
        }
    }
    // Every kept backup was taken after this (less the replay margin).
    let oldest_needed = now
        - Duration::days(keep_days)
        - Duration::minutes(REPLAY_MARGIN_MINUTES)
        - Duration::days(1);
    pruned.journal_entries_dropped = journal.compact(oldest_needed)?;
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_time_and_other_files_are_ignored() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T18:31:07Z")
            .unwrap()
            .to_utc();
        assert_eq!(file_name(at), "lethe-20261205T183107Z.backup");
        assert_eq!(taken_at(&file_name(at)), Some(at));
        assert_eq!(taken_at("lethe-nonsense.backup"), None);
        assert_eq!(taken_at("erasure-journal.jsonl"), None);
    }

    #[test]
    fn prune_deletes_only_expired_backups() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let old = file_name(now - Duration::days(31));
        let young = file_name(now - Duration::days(29));
        for name in [&old, &young, &"notes.txt".to_owned()] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let pruned = prune(dir.path(), 30, &Journal::off(), now).unwrap();
        assert_eq!(pruned.removed, vec![old.clone()]);
        assert_eq!(pruned.kept, 1);
        assert!(!dir.path().join(&old).exists());
        assert!(dir.path().join(&young).exists());
        assert!(dir.path().join("notes.txt").exists());
    }
}
