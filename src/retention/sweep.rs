//! The orphan sweep: attachment files that no attachment row refers to. A run removes a
//! deleted attachment's file right after the batch commits; a crash in between leaves the file
//! behind with nothing pointing at it. The sweep, at the end of every run and hourly, removes
//! such files — only those untouched for [`SAFE_AGE_MINUTES`], because an ingest writes its
//! file before it commits the row (and refreshes an existing file's time when it reuses it),
//! so a young unreferenced file may be one that is about to be referenced.
//! Leftover temporary files of interrupted writes (`*.tmp<pid>`, among them uploads left in
//! `attachments/tmp/` by a crash, see `mail::blobs`) of the same age go too.
//!
//! With the files in a bucket (`LETHE_BLOB_URL`), the objects under its prefix are listed
//! and those older than [`SAFE_AGE_MINUTES`] (by their `last_modified`) that no row refers to
//! are deleted; a commit that reuses an object older than half that uploads it again
//! (`mail::blobs::s3`). Temporary files stay local, and are swept as above.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use crate::db::entity::attachment;
use crate::state::AppState;

/// Files younger than this are never swept.
pub const SAFE_AGE_MINUTES: u64 = 60;
/// Blob ids looked up per query.
const CHUNK: usize = 500;

/// What a sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Sealed attachment files no row referred to.
    pub orphan_files: u64,
    /// Temporary files of interrupted writes.
    pub temporary_files: u64,
}

/// One file of the store, if it is old enough to be considered.
struct Old {
    path: PathBuf,
    /// The blob id for a sealed file; None for a temporary file.
    blob_id: Option<String>,
}

fn is_blob_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn old_files(dir: &Path, older_than: SystemTime) -> std::io::Result<Vec<Old>> {
    let mut out = Vec::new();
    let shards = match std::fs::read_dir(dir) {
        Ok(shards) => shards,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(error) => return Err(error),
    };
    for shard in shards {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(shard.path())? {
            let file = file?;
            let meta = file.metadata()?;
            if !meta.is_file() || meta.modified()? > older_than {
                continue;
            }
            let name = file.file_name().to_string_lossy().into_owned();
            let blob_id = if is_blob_id(&name) {
                Some(name)
            } else if name
                .split_once('.')
                .is_some_and(|(id, ext)| is_blob_id(id) && ext.starts_with("tmp"))
            {
                None
            } else {
                // Not ours: left alone.
                continue;
            };
            out.push(Old {
                path: file.path(),
                blob_id,
            });
        }
    }
    Ok(out)
}

/// Removes the attachment files that are older than `min_age` and referenced by no row.
/// A file that cannot be removed is logged and skipped.
pub async fn sweep(state: &AppState, min_age: Duration) -> Result<Swept, sea_orm::DbErr> {
    let dir = state.config.data_dir.join("attachments");
    let older_than = SystemTime::now()
        .checked_sub(min_age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let scan = tokio::task::spawn_blocking(move || old_files(&dir, older_than)).await;
    let files = match scan {
        Ok(Ok(files)) => files,
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot scan the attachment store");
            return Ok(Swept::default());
        }
        Err(error) => {
            tracing::error!(%error, "attachment store scan stopped");
            return Ok(Swept::default());
        }
    };
    let mut swept = Swept::default();
    if let Some(remote) = state.blobs.remote() {
        swept.orphan_files += sweep_remote(state, remote, older_than).await?;
    }
    let (blobs, temporary): (Vec<Old>, Vec<Old>) =
        files.into_iter().partition(|f| f.blob_id.is_some());
    for file in temporary {
        if remove(&file.path) {
            swept.temporary_files += 1;
        }
    }
    for chunk in blobs.chunks(CHUNK) {
        let ids: Vec<&str> = chunk.iter().filter_map(|f| f.blob_id.as_deref()).collect();
        let referenced = referenced(state, ids).await?;
        for file in chunk {
            let Some(id) = &file.blob_id else { continue };
            if referenced.contains(id) {
                continue;
            }
            // Checked once more just before: an ingest may have referenced it meanwhile.
            if still_old(&file.path, older_than) && remove(&file.path) {
                swept.orphan_files += 1;
            }
        }
    }
    if swept != Swept::default() {
        tracing::info!(
            orphan_files = swept.orphan_files,
            temporary_files = swept.temporary_files,
            "attachment store swept"
        );
    }
    Ok(swept)
}

/// The bucket's part of the sweep: the number of objects deleted. A listing that fails is
/// logged and the sweep goes on.
async fn sweep_remote(
    state: &AppState,
    remote: &crate::mail::blobs::s3::Remote,
    older_than: SystemTime,
) -> Result<u64, sea_orm::DbErr> {
    let ids = match remote.ids_older_than(older_than).await {
        Ok(ids) => ids,
        Err(error) => {
            tracing::error!(%error, "cannot list the attachment bucket");
            return Ok(0);
        }
    };
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK) {
        let referenced = referenced(state, chunk.iter().map(String::as_str)).await?;
        for id in chunk.iter().filter(|id| !referenced.contains(*id)) {
            match remote.delete_if_older(id, older_than).await {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot remove an unreferenced attachment object");
                }
            }
        }
    }
    Ok(removed)
}

/// Which of `ids` an attachment row refers to.
async fn referenced<'a>(
    state: &AppState,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeSet<String>, sea_orm::DbErr> {
    Ok(attachment::Entity::find()
        .select_only()
        .column(attachment::Column::BlobId)
        .filter(attachment::Column::BlobId.is_in(ids))
        .into_tuple::<String>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect())
}

fn still_old(path: &Path, older_than: SystemTime) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified <= older_than)
}

fn remove(path: &Path) -> bool {
    match std::fs::remove_file(path) {
        Ok(()) => true,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => {
            tracing::error!(%error, "cannot remove an unreferenced attachment file");
            false
        }
    }
}

/// The hourly job: sweeps with the safe age.
pub async fn run_once(state: &AppState) -> Result<Swept, sea_orm::DbErr> {
    sweep(state, Duration::from_secs(SAFE_AGE_MINUTES * 60)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_store_files_are_candidates() {
        let dir = tempfile::tempdir().unwrap();
        let shard = dir.path().join("ab");
        std::fs::create_dir_all(&shard).unwrap();
        let id = "ab".repeat(32);
        std::fs::write(shard.join(&id), b"x").unwrap();
        std::fs::write(shard.join(format!("{id}.tmp42")), b"x").unwrap();
        std::fs::write(shard.join("README"), b"x").unwrap();
        let past = SystemTime::now() - Duration::from_secs(3600);
        assert!(old_files(dir.path(), past).unwrap().is_empty(), "too young");
        let future = SystemTime::now() + Duration::from_secs(3600);
        let found = old_files(dir.path(), future).unwrap();
        assert_eq!(found.len(), 2, "the stray README is not ours");
        assert_eq!(found.iter().filter(|f| f.blob_id.is_some()).count(), 1);
        assert!(
            old_files(&dir.path().join("missing"), future)
                .unwrap()
                .is_empty()
        );
    }
}
