//! The attachment store: files sealed with AES-256-GCM under the instance key, named by a
//! keyed digest of their content (so equal files are stored once, and the name reveals
//! nothing about the content), under `attachments/` in the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::crypto::Sealer;

const CONTEXT: &str = "attachment";

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("attachment store I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("an attachment file could not be opened (wrong instance key or altered file)")]
    Sealed,
    #[error("not an attachment id")]
    BadId,
}

#[derive(Clone)]
pub struct BlobStore {
    dir: PathBuf,
    sealer: Sealer,
    /// Keys the content digest, so a file's name cannot be matched against a known file.
    name_key: [u8; 32],
}

impl BlobStore {
    pub fn new(data_dir: &Path, sealer: Sealer, key: &crate::crypto::SecretKey) -> Self {
        let name_key: [u8; 32] = Sha256::new()
            .chain_update(b"lethe-blob-names")
            .chain_update(key.bytes())
            .finalize()
            .into();
        Self {
            dir: data_dir.join("attachments"),
            sealer,
            name_key,
        }
    }

    pub fn id_for(&self, content: &[u8]) -> String {
        hex::encode(
            Sha256::new()
                .chain_update(self.name_key)
                .chain_update(content)
                .finalize(),
        )
    }

    fn path(&self, id: &str) -> Result<PathBuf, BlobError> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BlobError::BadId);
        }
        Ok(self.dir.join(&id[..2]).join(id))
    }

    /// Stores `content` (sealed, fsynced) and returns its id. Storing twice is a no-op.
    pub fn put(&self, content: &[u8]) -> Result<String, BlobError> {
        let id = self.id_for(content);
        let path = self.path(&id)?;
        if path.exists() {
            // Reused: its time is refreshed, so the orphan sweep (src/retention/sweep.rs),
            // which only takes old unreferenced files, leaves it to the row about to refer to it.
            std::fs::File::options()
                .append(true)
                .open(&path)?
                .set_modified(std::time::SystemTime::now())?;
            return Ok(id);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&self.sealer.seal(content, CONTEXT))?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(id)
    }

    pub fn get(&self, id: &str) -> Result<Vec<u8>, BlobError> {
        let sealed = std::fs::read(self.path(id)?)?;
        self.sealer
            .open(&sealed, CONTEXT)
            .map_err(|_| BlobError::Sealed)
    }

    /// Removes a file (when no attachment row refers to it any more).
    pub fn delete(&self, id: &str) -> Result<(), BlobError> {
        match std::fs::remove_file(self.path(id)?) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error.into()),
        }
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
        assert!(matches!(
            store.get("../../etc/passwd"),
            Err(BlobError::BadId)
        ));
    }
}
