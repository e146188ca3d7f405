//! What a backup holds, inside the sealed stream: a manifest, then files, then an end record
//! with the number of files. Every record is a tag byte; a file is its relative path and its
//! length, then its bytes, copied through without being held in memory.
//!
//! ```text
//! 'M' length (4) manifest JSON
//! 'F' path length (2) path, size (8) bytes
//! 'E' file count (8)
//! ```

use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The archive format this build writes and reads.
pub const FORMAT: u32 = 1;
/// The largest manifest accepted (it is a few hundred bytes).
const MAX_MANIFEST: u32 = 1024 * 1024;

/// What the backup is: when it was taken, from which database, under which instance key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// When the snapshot started: the erasure journal is replayed from here on.
    pub taken_at: DateTime<Utc>,
    /// `sqlite` (the database is in the backup) or `postgres` (it is not: pg_dump's).
    pub backend: String,
    pub lethe_version: String,
    /// The instance key's fingerprint: a restore with another key is refused, since the
    /// attachments and sealed secrets would not open.
    pub instance_key: String,
}

/// A file's place inside the data directory, checked to stay inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelativePath(String);

impl RelativePath {
    pub fn parse(path: &str) -> Option<Self> {
        let candidate = Path::new(path);
        let plain = !path.is_empty()
            && !path.contains('\\')
            && candidate
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        plain.then(|| Self(path.to_owned()))
    }

    /// From a path under `base` (None when it is not under it or not UTF-8).
    pub fn under(base: &Path, path: &Path) -> Option<Self> {
        let relative = path.strip_prefix(base).ok()?;
        let parts: Option<Vec<&str>> = relative
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect();
        Self::parse(&parts?.join("/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn within(&self, base: &Path) -> PathBuf {
        base.join(&self.0)
    }
}

/// Writes records into a (sealed) writer.
pub struct ArchiveWriter<W: Write> {
    inner: W,
    files: u64,
}

impl<W: Write> ArchiveWriter<W> {
    pub fn new(mut inner: W, manifest: &Manifest) -> io::Result<Self> {
        let json = serde_json::to_vec(manifest).map_err(io::Error::other)?;
        let length = u32::try_from(json.len()).map_err(io::Error::other)?;
        inner.write_all(b"M")?;
        inner.write_all(&length.to_be_bytes())?;
        inner.write_all(&json)?;
        Ok(Self { inner, files: 0 })
    }

    /// Copies `size` bytes of `content` as the file at `path`; fails if it holds fewer.
    pub fn file(&mut self, path: &RelativePath, size: u64, content: impl Read) -> io::Result<()> {
        let name = path.as_str().as_bytes();
        let length = u16::try_from(name.len()).map_err(io::Error::other)?;
        self.inner.write_all(b"F")?;
        self.inner.write_all(&length.to_be_bytes())?;
        self.inner.write_all(name)?;
        self.inner.write_all(&size.to_be_bytes())?;
        let copied = io::copy(&mut content.take(size), &mut self.inner)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} changed while it was backed up", path.as_str()),
            ));
        }
        self.files += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.inner.write_all(b"E")?;
        self.inner.write_all(&self.files.to_be_bytes())?;
        Ok((self.inner, self.files))
    }
}

/// Why the archive inside a (correctly sealed) backup could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the backup's contents are malformed: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One file of the archive; its bytes are read with [`ArchiveReader::copy_file`].
pub struct FileEntry {
    pub path: RelativePath,
    pub size: u64,
}

/// Reads records from an opened stream.
pub struct ArchiveReader<R: Read> {
    inner: R,
    files: u64,
    ended: bool,
}

impl<R: Read> ArchiveReader<R> {
    pub fn new(mut inner: R) -> Result<(Self, Manifest), ArchiveError> {
        let mut tag = [0u8; 1];
        inner.read_exact(&mut tag)?;
        if &tag != b"M" {
            return Err(ArchiveError::Malformed("no manifest".into()));
        }
        let mut length = [0u8; 4];
        inner.read_exact(&mut length)?;
        let length = u32::from_be_bytes(length);
        if length > MAX_MANIFEST {
            return Err(ArchiveError::Malformed("manifest too large".into()));
        }
        let mut json = vec![0u8; length as usize];
        inner.read_exact(&mut json)?;
        let manifest: Manifest = serde_json::from_slice(&json)
            .map_err(|e| ArchiveError::Malformed(format!("manifest: {e}")))?;
        if manifest.format != FORMAT {
            return Err(ArchiveError::Malformed(format!(
                "archive format {} (this build reads {FORMAT})",
                manifest.format
            )));
        }
        Ok((
            Self {
                inner,
                files: 0,
                ended: false,
            },
            manifest,
        ))
    }

    /// The next file, or None at the end record (whose count is checked).
    pub fn next_file(&mut self) -> Result<Option<FileEntry>, ArchiveError> {
        if self.ended {
            return Ok(None);
        }
        let mut tag = [0u8; 1];
        self.inner.read_exact(&mut tag)?;
        match &tag {
            b"F" => {
                let mut length = [0u8; 2];
                self.inner.read_exact(&mut length)?;
                let mut name = vec![0u8; usize::from(u16::from_be_bytes(length))];
                self.inner.read_exact(&mut name)?;
                let name = String::from_utf8(name)
                    .map_err(|_| ArchiveError::Malformed("a path is not UTF-8".into()))?;
                let path = RelativePath::parse(&name).ok_or_else(|| {
                    ArchiveError::Malformed(format!("a path leaves the data directory: {name}"))
                })?;
                let mut size = [0u8; 8];
                self.inner.read_exact(&mut size)?;
                self.files += 1;
                Ok(Some(FileEntry {
                    path,
                    size: u64::from_be_bytes(size),
                }))
            }
            b"E" => {
                let mut count = [0u8; 8];
                self.inner.read_exact(&mut count)?;
                if u64::from_be_bytes(count) != self.files {
                    return Err(ArchiveError::Malformed(
                        "the file count does not match".into(),
                    ));
                }
                // The stream must end here (the reader checks there is nothing after).
                let mut probe = [0u8; 1];
                if self.inner.read(&mut probe)? != 0 {
                    return Err(ArchiveError::Malformed("data after the end record".into()));
                }
                self.ended = true;
                Ok(None)
            }
            _ => Err(ArchiveError::Malformed("unknown record".into())),
        }
    }

    /// Copies the current file's bytes into `sink`.
    pub fn copy_file(
        &mut self,
        entry: &FileEntry,
        sink: &mut impl Write,
    ) -> Result<(), ArchiveError> {
        let copied = io::copy(&mut (&mut self.inner).take(entry.size), sink)?;
        if copied != entry.size {
            return Err(ArchiveError::Malformed(format!(
                "{} is cut short",
                entry.path.as_str()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT,
            taken_at: Utc::now(),
            backend: "sqlite".into(),
            lethe_version: "test".into(),
            instance_key: "00".repeat(8),
        }
    }

    #[test]
    fn files_round_trip_with_the_manifest() {
        let mut writer = ArchiveWriter::new(Vec::new(), &manifest()).unwrap();
        let path = RelativePath::parse("attachments/ab/abcd").unwrap();
        writer.file(&path, 5, &b"hello"[..]).unwrap();
        let (bytes, files) = writer.finish().unwrap();
        assert_eq!(files, 1);
        let (mut reader, read) = ArchiveReader::new(&bytes[..]).unwrap();
        assert_eq!(read.backend, "sqlite");
        let entry = reader.next_file().unwrap().unwrap();
        assert_eq!(entry.path, path);
        let mut out = Vec::new();
        reader.copy_file(&entry, &mut out).unwrap();
        assert_eq!(out, b"hello");
        assert!(reader.next_file().unwrap().is_none());
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a\\b", "./a"] {
            assert!(RelativePath::parse(bad).is_none(), "{bad}");
        }
        assert!(RelativePath::parse("lethe.db").is_some());
    }

    #[test]
    fn a_file_shorter_than_announced_is_refused() {
        let mut writer = ArchiveWriter::new(Vec::new(), &manifest()).unwrap();
        let path = RelativePath::parse("a").unwrap();
        assert!(writer.file(&path, 10, &b"short"[..]).is_err());
    }
}
