//! The attachment store: files sealed with AES-256-GCM under the instance key, named by a
//! keyed digest of their content (so equal files are stored once, and the name reveals
//! nothing about the content), under `attachments/` in the data directory.
//!
//! Files are written and read as a sealed stream (`crypto::stream`, 64 KiB chunks, under a key
//! derived for attachments), so neither an upload nor a send holds a whole file: an upload is
//! sealed into `attachments/tmp/` as it arrives ([`BlobWriter`]), its name digested on the way,
//! and moved to its name only when the message that refers to it is stored
//! ([`StagedBlob::commit`]); a staged file never committed is deleted when it is dropped.
//! Files written before the stream format (one AES-GCM seal of the whole file) still open.
//!
//! With `LETHE_BLOB_URL=s3://bucket/prefix` the files live in an S3-compatible bucket instead
//! ([`s3`]), so several nodes share them; they are sealed here first, staged in the same
//! directory, and only sealed bytes are uploaded.

pub mod s3;

use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::crypto::stream::{self, KeySource, OpenReader, SealWriter};
use crate::crypto::{Sealer, SecretKey};

const CONTEXT: &str = "attachment";
/// Where uploads are sealed while they arrive (swept like other temporary files when left).
const STAGING: &str = "tmp";

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("attachment store I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("an attachment file could not be opened (wrong instance key or altered file)")]
    Sealed,
    #[error("not an attachment id")]
    BadId,
    #[error("the attachment bucket refused or did not answer: {0}")]
    Remote(String),
}

/// Where the files are kept (`LETHE_BLOB_URL`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BlobTarget {
    /// `attachments/` in the data directory (the default).
    #[default]
    DataDir,
    /// An S3-compatible bucket.
    S3(s3::S3Target),
}

/// A blob id: 64 hex digits.
fn is_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

impl BlobError {
    /// An error of a stream being read: a chunk that does not open is [`BlobError::Sealed`].
    fn of_read(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::InvalidData {
            BlobError::Sealed
        } else {
            BlobError::Io(error)
        }
    }
}

#[derive(Clone)]
pub struct BlobStore {
    dir: PathBuf,
    /// Opens files written before the stream format.
    sealer: Sealer,
    /// The key of the sealed streams (derived from the instance key for attachments only).
    stream_key: SecretKey,
    /// Keys the content digest, so a file's name cannot be matched against a known file.
    name_key: [u8; 32],
    /// The bucket, when the files are kept there (`dir` then only stages files).
    remote: Option<Arc<s3::Remote>>,
}

/// A stored file opened for reading: its plaintext, a chunk at a time.
pub type BlobReader = Box<dyn Read + Send>;

impl BlobStore {
    pub fn new(data_dir: &Path, sealer: Sealer, key: &SecretKey) -> Self {
        let name_key: [u8; 32] = Sha256::new()
            .chain_update(b"lethe-blob-names")
            .chain_update(key.bytes())
            .finalize()
            .into();
        Self {
            dir: data_dir.join("attachments"),
            sealer,
            stream_key: key.derive("lethe-attachment-stream"),
            name_key,
            remote: None,
        }
    }

    /// The store `target` names: the data directory's, or a bucket (not yet contacted: see
    /// [`BlobStore::check`]).
    pub fn for_target(
        data_dir: &Path,
        sealer: Sealer,
        key: &SecretKey,
        target: &BlobTarget,
    ) -> Result<Self, BlobError> {
        let mut store = Self::new(data_dir, sealer, key);
        if let BlobTarget::S3(target) = target {
            store.remote = Some(Arc::new(s3::Remote::new(target)?));
        }
        Ok(store)
    }

    /// The bucket, when the files are kept in one.
    pub fn remote(&self) -> Option<&s3::Remote> {
        self.remote.as_deref()
    }

    /// Start-up check: the bucket can be listed (nothing to check for the data directory).
    pub async fn check(&self) -> Result<(), BlobError> {
        match &self.remote {
            Some(remote) => remote.check().await,
            None => Ok(()),
        }
    }

    fn name_hasher(&self) -> Sha256 {
        Sha256::new().chain_update(self.name_key)
    }

    pub fn id_for(&self, content: &[u8]) -> String {
        hex::encode(self.name_hasher().chain_update(content).finalize())
    }

    fn path(&self, id: &str) -> Result<PathBuf, BlobError> {
        if !is_id(id) {
            return Err(BlobError::BadId);
        }
        Ok(self.dir.join(&id[..2]).join(id))
    }

    /// Stores `content` (sealed, fsynced) and returns its id. Storing twice is a no-op.
    pub fn put(&self, content: &[u8]) -> Result<String, BlobError> {
        let id = self.id_for(content);
        let path = self.path(&id)?;
        // In a bucket, `commit` decides whether the object is reused.
        if self.remote.is_none() && path.exists() {
            refresh(&path)?;
            return Ok(id);
        }
        let mut writer = self.writer()?;
        writer.write_all(content)?;
        writer.finish()?.commit()
    }

    /// A new file in the staging directory: `<64 hex digits>.tmp<pid>`, the orphan sweep's
    /// name for a left temporary file.
    fn staging_file(&self) -> Result<(PathBuf, std::fs::File), BlobError> {
        let dir = self.dir.join(STAGING);
        std::fs::create_dir_all(&dir)?;
        let mut name = [0u8; 32];
        crate::crypto::fill_random(&mut name);
        let path = dir.join(format!("{}.tmp{}", hex::encode(name), std::process::id()));
        let file = std::fs::File::create_new(&path)?;
        Ok((path, file))
    }

    /// [`BlobStore::put`] from async code: with a bucket, the upload runs on a blocking
    /// thread (the file is sealed here, as the local store writes it here).
    pub async fn put_async(&self, content: &[u8]) -> Result<String, BlobError> {
        if self.remote.is_none() {
            return self.put(content);
        }
        let mut writer = self.writer()?;
        writer.write_all(content)?;
        let staged = writer.finish()?;
        tokio::task::spawn_blocking(move || staged.commit())
            .await
            .map_err(|e| io::Error::other(e.to_string()))?
    }

    /// A file to write a new attachment into, sealed chunk by chunk as it is written.
    pub fn writer(&self) -> Result<BlobWriter, BlobError> {
        let (path, file) = self.staging_file()?;
        let staged = Staged { path: Some(path) };
        let sealing = SealWriter::new(file, &self.stream_key, KeySource::Instance)?;
        Ok(BlobWriter {
            store: self.clone(),
            sealing: Some(sealing),
            hasher: self.name_hasher(),
            size: 0,
            staged,
        })
    }

    /// The file's plaintext as a reader (a chunk at a time for files in the stream format).
    pub fn open(&self, id: &str) -> Result<BlobReader, BlobError> {
        let path = self.path(id)?;
        let mut file = match &self.remote {
            None => std::fs::File::open(path)?,
            Some(remote) => {
                // Downloaded (sealed) into a staging file, which is unlinked once it is open:
                // it goes when the reader is dropped, or with the sweep after a crash.
                let (staging, file) = self.staging_file()?;
                let staged = Staged {
                    path: Some(staging),
                };
                let mut file = remote.download(id, file)?;
                file.seek(io::SeekFrom::Start(0))?;
                drop(staged);
                file
            }
        };
        let mut prefix = Vec::with_capacity(stream::HEADER);
        (&mut file)
            .take(stream::HEADER as u64)
            .read_to_end(&mut prefix)?;
        if stream::is_sealed_stream(&prefix) {
            let key = self.stream_key.clone();
            let reader = OpenReader::new(io::Cursor::new(prefix).chain(file), |_| Some(key))
                .map_err(|_| BlobError::Sealed)?;
            return Ok(Box::new(reader));
        }
        // Written before the stream format: one seal over the whole file.
        let mut sealed = prefix;
        file.read_to_end(&mut sealed)?;
        let plain = self
            .sealer
            .open(&sealed, CONTEXT)
            .map_err(|_| BlobError::Sealed)?;
        Ok(Box::new(io::Cursor::new(plain)))
    }

    pub fn get(&self, id: &str) -> Result<Vec<u8>, BlobError> {
        let mut plain = Vec::new();
        self.open(id)?
            .read_to_end(&mut plain)
            .map_err(BlobError::of_read)?;
        Ok(plain)
    }

    /// Reads the whole file once, checking every chunk opens, and returns its length.
    pub fn verify(&self, id: &str) -> Result<u64, BlobError> {
        io::copy(&mut self.open(id)?, &mut io::sink()).map_err(BlobError::of_read)
    }

    /// Removes a file (when no attachment row refers to it any more).
    pub fn delete(&self, id: &str) -> Result<(), BlobError> {
        let path = self.path(id)?;
        if let Some(remote) = &self.remote {
            return remote.delete(id);
        }
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// Reused: its time is refreshed, so the orphan sweep (src/retention/sweep.rs), which only
/// takes old unreferenced files, leaves it to the row about to refer to it.
fn refresh(path: &Path) -> Result<(), BlobError> {
    std::fs::File::options()
        .append(true)
        .open(path)?
        .set_modified(std::time::SystemTime::now())?;
    Ok(())
}

/// A file in `attachments/tmp/`, deleted when dropped unless it was moved into the store.
struct Staged {
    path: Option<PathBuf>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Best effort: a file left by a failure here is taken by the orphan sweep.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A new attachment being written: sealed a chunk at a time into the staging directory, its
/// content digest (its name) computed on the way. Dropped before [`BlobWriter::finish`], the
/// partial file is deleted.
pub struct BlobWriter {
    store: BlobStore,
    sealing: Option<SealWriter<std::fs::File>>,
    hasher: Sha256,
    size: u64,
    staged: Staged,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Seals the last chunk and syncs the file: complete, named, not yet in the store.
    pub fn finish(mut self) -> Result<StagedBlob, BlobError> {
        let sealing = self
            .sealing
            .take()
            .ok_or_else(|| io::Error::other("attachment writer already finished"))?;
        sealing.finish()?.sync_all()?;
        let id = hex::encode(std::mem::take(&mut self.hasher).finalize());
        Ok(StagedBlob {
            store: self.store.clone(),
            id,
            size: self.size,
            staged: Staged {
                path: self.staged.path.take(),
            },
        })
    }
}

impl Write for BlobWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let sealing = self
            .sealing
            .as_mut()
            .ok_or_else(|| io::Error::other("attachment writer already finished"))?;
        let taken = sealing.write(data)?;
        self.hasher.update(&data[..taken]);
        self.size += taken as u64;
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A complete sealed file waiting in `attachments/tmp/` for the message that refers to it;
/// deleted when dropped without [`StagedBlob::commit`].
pub struct StagedBlob {
    store: BlobStore,
    id: String,
    size: u64,
    staged: Staged,
}

impl StagedBlob {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Moves the file to its name in the store (or, if the store has it already, refreshes
    /// that one and deletes this copy) and returns its id.
    pub fn commit(mut self) -> Result<String, BlobError> {
        let path = self.store.path(&self.id)?;
        if let Some(remote) = &self.store.remote {
            // An object young enough is reused; an older one is uploaded again, so the orphan
            // sweep sees a fresh time (see `s3`). This copy goes when `staged` is dropped.
            let fresh = remote
                .modified(&self.id)?
                .is_some_and(|time| time.elapsed().is_ok_and(|age| age < s3::REFRESH_AFTER));
            if !fresh {
                let staged = self
                    .staged
                    .path
                    .as_deref()
                    .ok_or_else(|| io::Error::other("attachment already committed"))?;
                remote.upload(&self.id, staged)?;
            }
            return Ok(std::mem::take(&mut self.id));
        }
        if path.exists() {
            refresh(&path)?;
            // This copy goes when `staged` is dropped.
            return Ok(std::mem::take(&mut self.id));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let staged = self
            .staged
            .path
            .take()
            .ok_or_else(|| io::Error::other("attachment already committed"))?;
        if let Err(error) = std::fs::rename(&staged, &path) {
            self.staged.path = Some(staged);
            return Err(error.into());
        }
        Ok(std::mem::take(&mut self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    #[test]
    fn blobs_are_sealed_deduplicated_and_deletable() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let store = BlobStore::new(dir.path(), Sealer::new(&key), &key);
        let id = store.put(b"invoice 4711 for Anna").unwrap();
        assert_eq!(store.put(b"invoice 4711 for Anna").unwrap(), id);
        assert_eq!(store.get(&id).unwrap(), b"invoice 4711 for Anna");
        let raw = std::fs::read(store.path(&id).unwrap()).unwrap();
        assert!(!raw.windows(4).any(|w| w == b"Anna"), "stored sealed");
        store.delete(&id).unwrap();
        assert!(store.get(&id).is_err());
        assert!(store.dir.join(STAGING).read_dir().unwrap().next().is_none());
        assert!(matches!(
            store.get("../../etc/passwd"),
            Err(BlobError::BadId)
        ));
    }

    fn staged(dir: &Path) -> Vec<PathBuf> {
        match dir.join("attachments").join(STAGING).read_dir() {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    #[test]
    fn a_streamed_file_is_named_by_its_content_and_only_stored_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let store = BlobStore::new(dir.path(), Sealer::new(&key), &key);
        let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut writer = store.writer().unwrap();
        for piece in content.chunks(9_999) {
            writer.write_all(piece).unwrap();
        }
        assert_eq!(writer.size(), 200_000);
        let staged_blob = writer.finish().unwrap();
        assert_eq!(
            staged(dir.path()).len(),
            1,
            "sealed in the staging directory"
        );
        let id = staged_blob.commit().unwrap();
        assert_eq!(
            id,
            store.id_for(&content),
            "the same name as a file stored whole"
        );
        assert!(staged(dir.path()).is_empty());
        assert_eq!(store.get(&id).unwrap(), content);
        assert_eq!(store.verify(&id).unwrap(), 200_000);
        // Committing an equal file again keeps one copy.
        let mut again = store.writer().unwrap();
        again.write_all(&content).unwrap();
        assert_eq!(again.finish().unwrap().commit().unwrap(), id);
        assert!(staged(dir.path()).is_empty());
    }

    #[test]
    fn a_dropped_writer_or_uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let store = BlobStore::new(dir.path(), Sealer::new(&key), &key);
        let mut writer = store.writer().unwrap();
        writer.write_all(&[7u8; 100_000]).unwrap();
        drop(writer);
        assert!(staged(dir.path()).is_empty(), "the partial file is deleted");
        let mut writer = store.writer().unwrap();
        writer.write_all(b"never sent").unwrap();
        drop(writer.finish().unwrap());
        assert!(
            staged(dir.path()).is_empty(),
            "the uncommitted file is deleted"
        );
    }

    #[test]
    fn files_sealed_whole_before_the_stream_format_still_open() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let sealer = Sealer::new(&key);
        let store = BlobStore::new(dir.path(), sealer.clone(), &key);
        let id = store.id_for(b"old invoice");
        let path = store.path(&id).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, sealer.seal(b"old invoice", CONTEXT)).unwrap();
        assert_eq!(store.get(&id).unwrap(), b"old invoice");
        // A damaged stream file is refused, not read short.
        let new = store.put(&[1u8; 100_000]).unwrap();
        let new_path = store.path(&new).unwrap();
        let mut raw = std::fs::read(&new_path).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        std::fs::write(&new_path, raw).unwrap();
        assert!(matches!(store.get(&new), Err(BlobError::Sealed)));
        assert!(matches!(store.verify(&new), Err(BlobError::Sealed)));
    }
}
