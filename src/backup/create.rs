//! `lethe backup create` and the scheduled job: a consistent snapshot taken while Lethe
//! serves, streamed into one sealed file.
//!
//! On SQLite the database is copied first with `VACUUM INTO` (a transactionally consistent,
//! compacted copy, beside the database in the data directory, removed afterwards), then the
//! attachment files are added. An attachment deleted between the two is missing from the
//! backup while its row is in it; that deletion is in the erasure journal, so the restore
//! removes the row again. Files are written as `.lethe-….backup.partial`, fsynced, then renamed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::archive::{ArchiveWriter, FORMAT, Manifest, RelativePath};
use super::stream::SealWriter;
use super::{BackupError, files};
use crate::config::DatabaseTarget;
use crate::state::AppState;

/// What `create` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Created {
    pub path: PathBuf,
    pub taken_at: DateTime<Utc>,
    pub files: u64,
    pub bytes: u64,
}

/// The SQLite snapshot's name in the data directory, while a backup is written.
const SNAPSHOT_PREFIX: &str = ".backup-snapshot-";
/// A snapshot this old is a leftover of a backup cut short by a crash (a running backup's is
/// younger: another process must not remove it).
const STALE_SNAPSHOT: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Removes snapshots left by backups cut short (a plain copy of the database must not outlive
/// an erasure for long). Called when a backup starts and when the instance opens.
pub fn remove_stale_snapshots(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= STALE_SNAPSHOT);
        if name.starts_with(SNAPSHOT_PREFIX) && stale {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::warn!("removed a database snapshot left by an interrupted backup")
                }
                Err(error) => tracing::error!(%error, "cannot remove a leftover backup snapshot"),
            }
        }
    }
}

/// What the data directory holds that a backup leaves out: the instance key (kept apart from
/// its backups), the search index (rebuilt on restore), lock files, and the live database
/// files (the snapshot stands for them).
fn left_out(data_dir: &Path, path: &Path, skip: &[PathBuf]) -> bool {
    if skip.iter().any(|s| path.starts_with(s)) {
        return true;
    }
    let Ok(relative) = path.strip_prefix(data_dir) else {
        return true;
    };
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    matches!(first.as_str(), "instance.key" | "index" | "locks")
        || first.starts_with("lethe.db")
        || first.starts_with(SNAPSHOT_PREFIX)
        // Temporary files of writes in progress (`<blob>.tmp<pid>`).
        || name.contains(".tmp")
}

/// Adds every file under `dir` that is not [`left_out`], depth first, streaming each one.
fn add_tree<W: Write>(
    archive: &mut ArchiveWriter<W>,
    data_dir: &Path,
    dir: &Path,
    skip: &[PathBuf],
) -> Result<(), BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BackupError::io("cannot read", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(BackupError::io("cannot read", dir))?;
        let path = entry.path();
        if left_out(data_dir, &path, skip) {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(BackupError::io("cannot read", &path))?;
        if kind.is_dir() {
            add_tree(archive, data_dir, &path, skip)?;
        } else if kind.is_file() {
            let Some(relative) = RelativePath::under(data_dir, &path) else {
                continue;
            };
            let file = match File::open(&path) {
                Ok(file) => file,
                // Deleted since it was listed: its deletion is in the journal.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(BackupError::io("cannot read", &path)(e)),
            };
            let size = file
                .metadata()
                .map_err(BackupError::io("cannot read", &path))?
                .len();
            archive
                .file(&relative, size, file)
                .map_err(BackupError::io("cannot back up", &path))?;
        }
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(dir)
        .map_err(BackupError::io("cannot create the backup directory", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(BackupError::io("cannot restrict the backup directory", dir))?;
    }
    Ok(())
}

fn create_private_file(path: &Path) -> Result<File, BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(BackupError::io("cannot create", path))
}

/// Takes a backup of `state`'s data into `dir`.
pub async fn create(state: &AppState, dir: &Path) -> Result<Created, BackupError> {
    let config = &state.config;
    let instance = super::configured_instance_key(config)?;
    let (key, source) = config.backup.sealing_key(&instance);
    create_private_dir(dir)?;
    let taken_at = Utc::now();
    let name = files::file_name(taken_at);
    let target = dir.join(&name);
    if target.exists() {
        return Err(BackupError::Exists(target.display().to_string()));
    }
    let partial = dir.join(format!(".{name}.partial"));
    let data_dir = config.data_dir.clone();
    remove_stale_snapshots(&data_dir);
    let (snapshot, backend, mut skip) = match &config.database {
        DatabaseTarget::Sqlite(path) => {
            let snapshot = data_dir.join(format!(
                "{SNAPSHOT_PREFIX}{}.db",
                uuid::Uuid::new_v4().simple()
            ));
            let quoted = snapshot.display().to_string().replace('\'', "''");
            if let Err(error) = state
                .db
                .execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
                .await
            {
                std::fs::remove_file(&snapshot).ok();
                return Err(error.into());
            }
            (Some(snapshot), "sqlite", vec![path.clone()])
        }
        DatabaseTarget::Postgres(_) => (None, "postgres", Vec::new()),
    };
    // A backup directory inside the data directory is not backed up into itself.
    skip.push(dir.to_path_buf());
    let manifest = Manifest {
        format: FORMAT,
        taken_at,
        backend: backend.to_owned(),
        lethe_version: env!("CARGO_PKG_VERSION").to_owned(),
        instance_key: instance.fingerprint(),
    };
    let write = {
        let (partial, snapshot) = (partial.clone(), snapshot.clone());
        move || -> Result<(u64, u64), BackupError> {
            let file = create_private_file(&partial)?;
            let sealed = SealWriter::new(BufWriter::with_capacity(256 * 1024, file), &key, source)
                .map_err(BackupError::io("cannot write", &partial))?;
            let mut archive = ArchiveWriter::new(sealed, &manifest)
                .map_err(BackupError::io("cannot write", &partial))?;
            if let Some(snapshot) = &snapshot {
                let db = File::open(snapshot).map_err(BackupError::io("cannot read", snapshot))?;
                let size = db
                    .metadata()
                    .map_err(BackupError::io("cannot read", snapshot))?
                    .len();
                let name = RelativePath::parse("lethe.db")
                    .ok_or_else(|| BackupError::Restore("bad path".into()))?;
                archive
                    .file(&name, size, db)
                    .map_err(BackupError::io("cannot back up", snapshot))?;
            }
            add_tree(&mut archive, &data_dir, &data_dir, &skip)?;
            let (sealed, count) = archive
                .finish()
                .map_err(BackupError::io("cannot write", &partial))?;
            let buffered = sealed
                .finish()
                .map_err(BackupError::io("cannot write", &partial))?;
            let file = buffered
                .into_inner()
                .map_err(|e| BackupError::io("cannot write", &partial)(e.into_error()))?;
            file.sync_all()
                .map_err(BackupError::io("cannot write", &partial))?;
            let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
            Ok((count, bytes))
        }
    };
    let written = tokio::task::spawn_blocking(write)
        .await
        .map_err(|e| BackupError::Restore(format!("the backup task stopped: {e}")));
    if let Some(snapshot) = &snapshot {
        std::fs::remove_file(snapshot).ok();
    }
    let (count, bytes) = match written.and_then(|r| r) {
        Ok(done) => done,
        Err(error) => {
            std::fs::remove_file(&partial).ok();
            return Err(error);
        }
    };
    std::fs::rename(&partial, &target).map_err(BackupError::io("cannot name", &target))?;
    if let Ok(handle) = File::open(dir) {
        handle.sync_all().ok();
    }
    tracing::info!(backup = %name, files = count, bytes, "backup written");
    Ok(Created {
        path: target,
        taken_at,
        files: count,
        bytes,
    })
}

/// What one run of the scheduled job did (names and counts only).
#[derive(Clone, Debug)]
pub struct Outcome {
    pub backup: String,
    pub files: u64,
    pub bytes: u64,
    pub expired_removed: usize,
}

/// The scheduled job (`LETHE_BACKUP_SCHEDULE`): a backup into `LETHE_BACKUP_DIR`, then the
/// expired ones deleted.
pub async fn run_once(state: &AppState) -> Result<Outcome, BackupError> {
    let dir = state
        .config
        .backup
        .dir
        .clone()
        .ok_or(BackupError::NoDirectory)?;
    let created = create(state, &dir).await?;
    let (keep_days, journal) = (state.config.backup.keep_days, state.journal.clone());
    let pruned =
        tokio::task::spawn_blocking(move || files::prune(&dir, keep_days, &journal, Utc::now()))
            .await
            .map_err(|e| BackupError::Restore(format!("pruning stopped: {e}")))??;
    Ok(Outcome {
        backup: created
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        files: created.files,
        bytes: created.bytes,
        expired_removed: pruned.removed.len(),
    })
}
