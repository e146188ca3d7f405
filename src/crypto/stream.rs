//! The sealed stream: how a backup file (and, under a key derived for them, an attachment
//! file: `mail::blobs`) is encrypted, in chunks, so that neither writing nor reading ever holds
//! more than one chunk in memory.
//!
//! ```text
//! header   "LETHEBK" 0x01 | key source (1 byte) | salt (32) | key check (16)
//! chunk*   length (4 bytes, big endian; top bit = final) | AES-256-GCM ciphertext with tag
//! ```
//!
//! Each file has its own key, HMAC-SHA256(backup key, "lethe-backup-file" ‖ salt); the key
//! check (a value derived from that key) tells a wrong key from a damaged file before any
//! chunk is opened. Chunk `i` holds at most [`CHUNK`] bytes of plaintext; its nonce is `i`
//! (8 bytes) ‖ 0 0 0 ‖ final, and its associated data is the header ‖ `i` ‖ final. So a
//! changed byte anywhere, chunks swapped, dropped or repeated, a cut after any chunk (no
//! chunk says final) and anything after the final chunk are all refused.

use std::io::{self, Read, Write};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::SecretKey;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const MAGIC: &[u8; 8] = b"LETHEBK\x01";
const SALT: usize = 32;
const CHECK: usize = 16;
/// The header's length: magic, key source, salt, key check.
pub const HEADER: usize = 8 + 1 + SALT + CHECK;
const TAG: usize = 16;
const FINAL: u32 = 1 << 31;

/// Which key sealed a backup (recorded in the header, so a restore can say which it needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Derived from the instance key (`LETHE_SECRET_KEY` or the key file).
    Instance,
    /// `LETHE_BACKUP_KEY`.
    BackupKey,
}

impl KeySource {
    fn byte(self) -> u8 {
        match self {
            KeySource::Instance => 1,
            KeySource::BackupKey => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(KeySource::Instance),
            2 => Some(KeySource::BackupKey),
            _ => None,
        }
    }

    /// Where the key comes from, in the operator's words.
    pub fn describe(self) -> &'static str {
        match self {
            KeySource::Instance => "the instance key (LETHE_SECRET_KEY or the key file)",
            KeySource::BackupKey => "LETHE_BACKUP_KEY",
        }
    }
}

/// Why a sealed stream was refused.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("not a Lethe backup file (no backup header)")]
    NotABackup,
    #[error(
        "wrong key: this backup was sealed with another {}, or its header was altered",
        .0.describe()
    )]
    WrongKey(KeySource),
    #[error("the backup was altered or damaged: chunk {0} failed authentication")]
    Tampered(u64),
    #[error("the backup is truncated: it ends before its final chunk (after chunk {0})")]
    Truncated(u64),
    #[error("the backup has data after its final chunk")]
    TrailingData,
    #[error("reading or writing the backup failed: {0}")]
    Io(#[from] io::Error),
}

impl From<StreamError> for io::Error {
    fn from(error: StreamError) -> Self {
        match error {
            StreamError::Io(error) => error,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

fn file_key(key: &SecretKey, salt: &[u8]) -> (Aes256Gcm, [u8; CHECK]) {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"lethe-backup-file");
    mac.update(salt);
    let derived: [u8; 32] = mac.finalize().into_bytes().into();
    let mut check_mac = <Hmac<Sha256> as Mac>::new_from_slice(&derived)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    check_mac.update(b"lethe-backup-key-check");
    let mut check = [0u8; CHECK];
    check.copy_from_slice(&check_mac.finalize().into_bytes()[..CHECK]);
    (Aes256Gcm::new(&Key::<Aes256Gcm>::from(derived)), check)
}

fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&index.to_be_bytes());
    bytes[11] = u8::from(last);
    bytes
}

fn aad(header: &[u8; HEADER], index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER + 9);
    aad.extend_from_slice(header);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// Seals what is written to it into `inner`, a chunk at a time; [`SealWriter::finish`] writes
/// the final chunk (without it the file reads as truncated).
pub struct SealWriter<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    header: [u8; HEADER],
    buffer: Vec<u8>,
    index: u64,
}

impl<W: Write> SealWriter<W> {
    pub fn new(mut inner: W, key: &SecretKey, source: KeySource) -> io::Result<Self> {
        let mut salt = [0u8; SALT];
        crate::crypto::fill_random(&mut salt);
        let (cipher, check) = file_key(key, &salt);
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8] = source.byte();
        header[9..9 + SALT].copy_from_slice(&salt);
        header[9 + SALT..].copy_from_slice(&check);
        inner.write_all(&header)?;
        Ok(Self {
            inner,
            cipher,
            header,
            buffer: Vec::with_capacity(CHUNK),
            index: 0,
        })
    }

    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce(self.index, last)),
                Payload {
                    msg: &self.buffer,
                    aad: &aad(&self.header, self.index, last),
                },
            )
            .map_err(|_| io::Error::other("sealing a backup chunk failed"))?;
        let length = u32::try_from(ciphertext.len())
            .map_err(|_| io::Error::other("backup chunk too large"))?;
        let prefix = if last { length | FINAL } else { length };
        self.inner.write_all(&prefix.to_be_bytes())?;
        self.inner.write_all(&ciphertext)?;
        self.buffer.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals what is buffered as the final chunk and hands back the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buffer.len() == CHUNK {
            // Only sealed once more data comes: the last chunk must carry the final flag.
            self.seal_chunk(false)?;
        }
        let room = CHUNK - self.buffer.len();
        let taken = room.min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether `prefix` (the first bytes of a file) starts a sealed stream.
pub fn is_sealed_stream(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC)
}

/// Reads the header of a sealed stream: the key source, without opening anything.
pub fn key_source(inner: &mut impl Read) -> Result<(KeySource, [u8; HEADER]), StreamError> {
    let mut header = [0u8; HEADER];
    read_full(inner, &mut header)
        .map_err(StreamError::Io)
        .and_then(|n| {
            if n < HEADER {
                Err(StreamError::NotABackup)
            } else {
                Ok(())
            }
        })?;
    if &header[..8] != MAGIC {
        return Err(StreamError::NotABackup);
    }
    let source = KeySource::from_byte(header[8]).ok_or(StreamError::NotABackup)?;
    Ok((source, header))
}

/// Opens a sealed stream chunk by chunk: reading yields the plaintext of authenticated chunks
/// only, and fails (as an `InvalidData` error carrying a [`StreamError`]) on the first chunk
/// that does not authenticate, a missing final chunk, or trailing data.
pub struct OpenReader<R: Read> {
    inner: R,
    cipher: Aes256Gcm,
    header: [u8; HEADER],
    plain: Vec<u8>,
    position: usize,
    index: u64,
    done: bool,
}

impl<R: Read> OpenReader<R> {
    /// Reads the header and checks the key; `key_for` picks the key for the recorded source.
    pub fn new(
        mut inner: R,
        key_for: impl FnOnce(KeySource) -> Option<SecretKey>,
    ) -> Result<Self, StreamError> {
        let (source, header) = key_source(&mut inner)?;
        let key = key_for(source).ok_or(StreamError::WrongKey(source))?;
        let (cipher, check) = file_key(&key, &header[9..9 + SALT]);
        // Constant time is not needed: the check value is public in the file.
        if header[9 + SALT..] != check {
            return Err(StreamError::WrongKey(source));
        }
        Ok(Self {
            inner,
            cipher,
            header,
            plain: Vec::new(),
            position: 0,
            index: 0,
            done: false,
        })
    }

    /// How many chunks were opened so far.
    pub fn chunks(&self) -> u64 {
        self.index
    }

    fn next_chunk(&mut self) -> Result<(), StreamError> {
        let mut prefix = [0u8; 4];
        if read_full(&mut self.inner, &mut prefix)? < 4 {
            return Err(StreamError::Truncated(self.index));
        }
        let prefix = u32::from_be_bytes(prefix);
        let last = prefix & FINAL != 0;
        let length = (prefix & !FINAL) as usize;
        if !(TAG..=CHUNK + TAG).contains(&length) {
            return Err(StreamError::Tampered(self.index));
        }
        let mut ciphertext = vec![0u8; length];
        if read_full(&mut self.inner, &mut ciphertext)? < length {
            return Err(StreamError::Truncated(self.index));
        }
        self.plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce(self.index, last)),
                Payload {
                    msg: &ciphertext,
                    aad: &aad(&self.header, self.index, last),
                },
            )
            .map_err(|_| StreamError::Tampered(self.index))?;
        self.position = 0;
        self.index += 1;
        if last {
            let mut probe = [0u8; 1];
            if read_full(&mut self.inner, &mut probe)? > 0 {
                return Err(StreamError::TrailingData);
            }
            self.done = true;
        }
        Ok(())
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.position);
        out[..n].copy_from_slice(&self.plain[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(inner: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match inner.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The [`StreamError`] inside an I/O error from [`OpenReader`], if that is what it was.
pub fn stream_error(error: io::Error) -> StreamError {
    if error.get_ref().is_some_and(|e| e.is::<StreamError>()) {
        match error.into_inner().map(|e| e.downcast::<StreamError>()) {
            Some(Ok(stream)) => *stream,
            Some(Err(other)) => StreamError::Io(io::Error::other(other)),
            None => StreamError::Io(io::Error::other("unknown backup stream error")),
        }
    } else {
        StreamError::Io(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(data: &[u8], key: &SecretKey) -> Vec<u8> {
        let mut writer = SealWriter::new(Vec::new(), key, KeySource::Instance).unwrap();
        // Odd write sizes, so chunk boundaries fall inside writes.
        for piece in data.chunks(7_777) {
            writer.write_all(piece).unwrap();
        }
        writer.finish().unwrap()
    }

    fn open(sealed: &[u8], key: &SecretKey) -> Result<Vec<u8>, StreamError> {
        let mut reader = OpenReader::new(sealed, |_| Some(key.clone()))?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out).map_err(stream_error)?;
        Ok(out)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Where chunk `n` starts in a sealed stream whose chunks are all full but the last.
    fn chunk_start(n: usize) -> usize {
        HEADER + n * (4 + CHUNK + TAG)
    }

    #[test]
    fn sealed_streams_round_trip_at_every_size_around_a_chunk() {
        let key = SecretKey::generate();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
            let plain = data(len);
            let sealed = seal(&plain, &key);
            assert_eq!(open(&sealed, &key).unwrap(), plain, "length {len}");
        }
    }

    #[test]
    fn the_plaintext_does_not_appear_in_the_sealed_stream() {
        let key = SecretKey::generate();
        let sealed = seal(&b"Anna Schmidt, Quittenweg 9".repeat(100), &key);
        assert!(!sealed.windows(12).any(|w| w == b"Anna Schmidt"));
    }

    #[test]
    fn a_flipped_byte_anywhere_is_refused() {
        let key = SecretKey::generate();
        let sealed = seal(&data(2 * CHUNK + 10), &key);
        for position in [
            0,
            9,
            HEADER - 1,
            HEADER + 2,
            HEADER + 10,
            chunk_start(1) + 100,
            sealed.len() - 1,
        ] {
            let mut altered = sealed.clone();
            altered[position] ^= 0x01;
            assert!(open(&altered, &key).is_err(), "byte {position}");
        }
    }

    #[test]
    fn truncation_at_a_chunk_boundary_or_inside_a_chunk_is_refused() {
        let key = SecretKey::generate();
        let sealed = seal(&data(2 * CHUNK + 10), &key);
        for cut in [HEADER, chunk_start(1), chunk_start(2), sealed.len() - 1] {
            let error = open(&sealed[..cut], &key).unwrap_err();
            assert!(matches!(error, StreamError::Truncated(_)), "{cut}: {error}");
        }
        assert!(matches!(
            open(&sealed[..10], &key).unwrap_err(),
            StreamError::NotABackup
        ));
    }

    #[test]
    fn reordered_dropped_or_appended_chunks_are_refused() {
        let key = SecretKey::generate();
        let sealed = seal(&data(3 * CHUNK), &key);
        let (a, b) = (chunk_start(0), chunk_start(1));
        let c = chunk_start(2);
        let mut swapped = sealed[..a].to_vec();
        swapped.extend_from_slice(&sealed[b..c]);
        swapped.extend_from_slice(&sealed[a..b]);
        swapped.extend_from_slice(&sealed[c..]);
        assert!(matches!(
            open(&swapped, &key).unwrap_err(),
            StreamError::Tampered(0)
        ));
        let mut dropped = sealed[..a].to_vec();
        dropped.extend_from_slice(&sealed[b..]);
        assert!(matches!(
            open(&dropped, &key).unwrap_err(),
            StreamError::Tampered(0)
        ));
        let mut appended = sealed.clone();
        appended.extend_from_slice(&sealed[a..b]);
        assert!(matches!(
            open(&appended, &key).unwrap_err(),
            StreamError::TrailingData
        ));
        // The final flag cannot be moved: marking an earlier chunk final fails to open.
        let mut early_final = sealed.clone();
        early_final[a] |= 0x80;
        assert!(open(&early_final, &key).is_err());
    }

    #[test]
    fn another_key_is_named_as_the_wrong_key() {
        let sealed = seal(b"hello", &SecretKey::generate());
        assert!(matches!(
            open(&sealed, &SecretKey::generate()).unwrap_err(),
            StreamError::WrongKey(KeySource::Instance)
        ));
    }

    #[test]
    fn every_chunk_of_another_stream_under_the_same_key_is_refused() {
        let key = SecretKey::generate();
        let one = seal(&data(CHUNK + 1), &key);
        let two = seal(&data(CHUNK + 1), &key);
        let mut mixed = one[..chunk_start(1)].to_vec();
        mixed.extend_from_slice(&two[chunk_start(1)..]);
        assert!(matches!(
            open(&mixed, &key).unwrap_err(),
            StreamError::Tampered(1)
        ));
    }
}
