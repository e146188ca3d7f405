//! `lethe backup verify FILE` and `lethe backup restore FILE`.
//!
//! Verify opens every chunk and reads every record without writing anything. Restore fills an
//! empty data directory (it refuses one that holds anything, naming it): the files are written
//! as they are read, and a backup that turns out altered or cut short leaves the directory as
//! it was. Then it opens the restored instance (migrating an older schema), replays the
//! erasure journal entries made since the backup was taken (all of them on PostgreSQL, whose
//! database is restored from the operator's dump of unknown date), removes attachment files
//! no row refers to, rebuilds the search index and, on SQLite, checks the database's
//! integrity — all before it returns.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::Duration;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::Serialize;

use super::archive::{ArchiveReader, Manifest};
use super::journal::Journal;
use super::replay::Replayed;
use super::stream::{OpenReader, stream_error};
use super::{BackupError, REPLAY_MARGIN_MINUTES};
use crate::config::{Config, DatabaseTarget};
use crate::crypto::SecretKey;
use crate::state::AppState;

/// What verify read.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    pub manifest: Manifest,
    pub files: u64,
    pub bytes: u64,
}

/// What restore did.
#[derive(Clone, Debug, Serialize)]
pub struct Restored {
    pub manifest: Manifest,
    pub files: u64,
    /// The journal that was replayed, and what the replay did.
    pub journal: Option<PathBuf>,
    pub replayed: Replayed,
    pub orphan_files_removed: u64,
    pub index_documents: usize,
}

/// The instance key from `LETHE_SECRET_KEY`, `--key-file`, or the data directory's key file.
fn instance_key(
    config: &Config,
    key_file: Option<&Path>,
) -> Result<Option<SecretKey>, BackupError> {
    if let Some(key) = &config.secret_key {
        return Ok(Some(key.clone()));
    }
    let path = match key_file {
        Some(path) => path.to_path_buf(),
        None => {
            let path = config.data_dir.join("instance.key");
            if !path.exists() {
                return Ok(None);
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(BackupError::io("cannot read the key file", &path))?;
    SecretKey::parse(&text).map(Some).map_err(|reason| {
        BackupError::Restore(format!(
            "the key file {} is not a valid key: {reason}",
            path.display()
        ))
    })
}

/// A backup file opened for reading, chunk by chunk.
type Opened = ArchiveReader<OpenReader<BufReader<File>>>;

fn open(
    config: &Config,
    instance: Option<&SecretKey>,
    file: &Path,
) -> Result<(Opened, Manifest), BackupError> {
    let handle = File::open(file).map_err(BackupError::io("cannot open the backup", file))?;
    let reader = OpenReader::new(BufReader::with_capacity(256 * 1024, handle), |source| {
        config.backup.opening_key(instance, source)
    })
    .map_err(|error| match (error, instance) {
        (super::stream::StreamError::WrongKey(super::stream::KeySource::Instance), None) => {
            BackupError::NoInstanceKey
        }
        (error, _) => error.into(),
    })?;
    ArchiveReader::new(reader).map_err(archive_error)
}

/// An error while reading the archive: the stream's own error (altered, truncated) when that
/// is what it was.
fn archive_error(error: super::archive::ArchiveError) -> BackupError {
    match error {
        super::archive::ArchiveError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            stream_error(io).into()
        }
        super::archive::ArchiveError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            BackupError::Archive(super::archive::ArchiveError::Malformed(
                "the contents end early".into(),
            ))
        }
        other => other.into(),
    }
}

/// Reads the whole backup, checking every chunk; writes nothing.
pub async fn verify(
    config: &Config,
    file: &Path,
    key_file: Option<&Path>,
) -> Result<Verified, BackupError> {
    let instance = instance_key(config, key_file)?;
    let (config, file) = (config.clone(), file.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let (mut archive, manifest) = open(&config, instance.as_ref(), &file)?;
        let (mut files, mut bytes) = (0, 0);
        while let Some(entry) = archive.next_file().map_err(archive_error)? {
            archive
                .copy_file(&entry, &mut std::io::sink())
                .map_err(archive_error)?;
            files += 1;
            bytes += entry.size;
        }
        Ok(Verified {
            manifest,
            files,
            bytes,
        })
    })
    .await
    .map_err(|e| BackupError::Restore(format!("verify stopped: {e}")))?
}

fn is_empty_dir(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(BackupError::io("cannot read the data directory", dir)(e)),
    }
}

fn create_private(path: &Path) -> std::io::Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Removes what a failed restore wrote, leaving the directory empty as it was found.
fn undo(data_dir: &Path, database: Option<&Path>) {
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).ok();
            } else {
                std::fs::remove_file(&path).ok();
            }
        }
    }
    if let Some(database) = database {
        std::fs::remove_file(database).ok();
    }
}

/// Restores `file` into the configured (empty) data directory; see the module documentation.
pub async fn restore(
    config: Config,
    file: &Path,
    key_file: Option<&Path>,
) -> Result<Restored, BackupError> {
    let data_dir = config.data_dir.clone();
    if !is_empty_dir(&data_dir)? {
        return Err(BackupError::NotEmpty(data_dir.display().to_string()));
    }
    let instance = instance_key(&config, key_file)?.ok_or(BackupError::NoInstanceKey)?;
    let sqlite_path = match &config.database {
        DatabaseTarget::Sqlite(path) => {
            if path.exists() {
                return Err(BackupError::Exists(path.display().to_string()));
            }
            Some(path.clone())
        }
        DatabaseTarget::Postgres(_) => None,
    };
    let extract = {
        let (config, file, instance) = (config.clone(), file.to_path_buf(), instance.clone());
        let (data_dir, sqlite_path) = (data_dir.clone(), sqlite_path.clone());
        move || -> Result<(Manifest, u64), BackupError> {
            let (mut archive, manifest) = open(&config, Some(&instance), &file)?;
            let given = instance.fingerprint();
            if manifest.instance_key != given {
                return Err(BackupError::OtherInstanceKey {
                    backup: manifest.instance_key,
                    given,
                });
            }
            match (manifest.backend.as_str(), &sqlite_path) {
                ("sqlite", None) => {
                    return Err(BackupError::Mismatch(
                        "this backup holds a SQLite database, but LETHE_DATABASE_URL names PostgreSQL: restore it with the SQLite default (or a sqlite:// URL)".into(),
                    ));
                }
                ("postgres", Some(_)) => {
                    return Err(BackupError::Mismatch(
                        "this backup was taken on PostgreSQL and holds no database: restore the database from your pg_dump first, then run restore with LETHE_DATABASE_URL naming it".into(),
                    ));
                }
                _ => {}
            }
            std::fs::create_dir_all(&data_dir).map_err(BackupError::io(
                "cannot create the data directory",
                &data_dir,
            ))?;
            let mut files = 0;
            while let Some(entry) = archive.next_file().map_err(archive_error)? {
                let target = match (entry.path.as_str(), &sqlite_path) {
                    ("lethe.db", Some(path)) => path.clone(),
                    _ => entry.path.within(&data_dir),
                };
                if target.exists() {
                    return Err(BackupError::Exists(target.display().to_string()));
                }
                let mut out =
                    create_private(&target).map_err(BackupError::io("cannot write", &target))?;
                archive.copy_file(&entry, &mut out).map_err(archive_error)?;
                out.sync_all()
                    .map_err(BackupError::io("cannot write", &target))?;
                files += 1;
            }
            Ok((manifest, files))
        }
    };
    let extracted = tokio::task::spawn_blocking(extract)
        .await
        .map_err(|e| BackupError::Restore(format!("restore stopped: {e}")));
    let (manifest, files) = match extracted.and_then(|r| r) {
        Ok(done) => done,
        Err(error) => {
            undo(&data_dir, sqlite_path.as_deref());
            return Err(error);
        }
    };
    if config.secret_key.is_none() {
        // The key came from --key-file: the restored instance keeps it where it looks.
        let path = data_dir.join("instance.key");
        let text = std::fs::read_to_string(key_file.unwrap_or(&path))
            .map_err(BackupError::io("cannot read the key file", &path))?;
        create_private(&path)
            .and_then(|mut f| {
                f.write_all(format!("{}\n", text.trim()).as_bytes())?;
                f.sync_all()
            })
            .map_err(BackupError::io("cannot write the key file", &path))?;
    }
    let journal_dir = config
        .backup
        .dir
        .clone()
        .or_else(|| file.parent().map(Path::to_path_buf));
    let journal = Journal::in_dir(journal_dir.as_deref());
    let since = match manifest.backend.as_str() {
        "sqlite" => Some(manifest.taken_at - Duration::minutes(REPLAY_MARGIN_MINUTES)),
        _ => None,
    };
    let entries = journal.read(since)?;
    let state = AppState::open(config)
        .await
        .map_err(|e| BackupError::Restore(format!("cannot open the restored instance: {e}")))?;
    let replayed = super::replay::replay(&state, &entries).await?;
    let swept = crate::retention::sweep::sweep(&state, std::time::Duration::ZERO).await?;
    let rebuilt = crate::search::maintenance::rebuild(&state)
        .await
        .map_err(|e| BackupError::Restore(format!("the search index was not rebuilt: {e}")))?;
    crate::db::checkpoint(&state.db).await?;
    if state.db.get_database_backend() == DbBackend::Sqlite {
        let row = state
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await?;
        let answer: String = row
            .map(|r| r.try_get_by_index::<String>(0))
            .transpose()?
            .unwrap_or_default();
        if answer != "ok" {
            return Err(BackupError::Restore(format!(
                "the restored database failed its integrity check: {answer}"
            )));
        }
    }
    state.db.clone().close().await.ok();
    Ok(Restored {
        manifest,
        files,
        journal: journal.path().filter(|p| p.exists()),
        replayed,
        orphan_files_removed: swept.orphan_files,
        index_documents: rebuilt.documents,
    })
}
