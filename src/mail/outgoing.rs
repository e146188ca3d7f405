//! A reply's mail as it goes to the SMTP server, with at most one encoded copy in memory.
//!
//! lettre builds the mail (headers, text and HTML parts, MIME structure) with a short
//! placeholder as the body of each attachment part; the files are then base64-encoded straight
//! from the sealed store, a chunk at a time, into the one buffer that replaces the
//! placeholders ([`Spliced::write_out`], sized exactly beforehand). That buffer goes to the
//! server through lettre's connection in pieces (`message_iter`), so lettre's dot-stuffing
//! copies one piece at a time, not the whole mail. Neither the plaintext of a file nor a
//! second copy of the mail is ever held: for a 10 MB file the send holds about 13.7 MB.

use std::io::{self, Read};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lettre::Message;
use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{MailBodyParameter, MailParameter};

use super::blobs::{BlobError, BlobStore};
use super::compose::OutgoingFile;

/// Plaintext bytes per base64 line (76 characters), as lettre writes them.
const LINE: usize = 57;
/// Lines read from a file at a time.
const LINES_PER_READ: usize = 1024;
/// Bytes handed to the connection at a time (each dot-stuffed on its own).
pub const SEND_PIECE: usize = 64 * 1024;

/// A file's placeholder: a token that cannot occur elsewhere in the formatted mail.
pub fn placeholder(index: usize) -> String {
    format!("LETHE-ATTACHMENT-{}-{index}", crate::crypto::random_token())
}

/// A mail formatted by lettre with placeholders, and the files that replace them.
pub struct Spliced {
    envelope: Envelope,
    formatted: Vec<u8>,
    files: Vec<(String, OutgoingFile)>,
}

/// The length of `size` bytes base64-encoded in lines of 76 characters joined by CRLF.
pub fn encoded_len(size: u64) -> usize {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let lines = size.div_ceil(LINE);
    size.div_ceil(3) * 4 + lines.saturating_sub(1) * 2
}

impl Spliced {
    /// `email`'s attachment parts carry `files`' placeholders as their (base64) bodies.
    pub fn new(email: &Message, files: Vec<(String, OutgoingFile)>) -> Self {
        Self {
            envelope: email.envelope().clone(),
            formatted: email.formatted(),
            files,
        }
    }

    /// The whole mail, the files read from the store and encoded into one buffer of exactly
    /// the mail's length. Blocking: call it off the async threads.
    pub fn write_out(self, blobs: &BlobStore) -> Result<Vec<u8>, BlobError> {
        let mut rest: &[u8] = &self.formatted;
        let mut cuts = Vec::with_capacity(self.files.len());
        for (marker, file) in &self.files {
            let at = find(rest, marker.as_bytes())
                .ok_or_else(|| io::Error::other("an attachment placeholder is missing"))?;
            cuts.push((&rest[..at], file));
            rest = &rest[at + marker.len()..];
        }
        let total = cuts
            .iter()
            .map(|(before, file)| before.len() + encoded_len(file.size))
            .sum::<usize>()
            + rest.len();
        let mut out = Vec::with_capacity(total);
        for (before, file) in cuts {
            out.extend_from_slice(before);
            let written =
                encode_file(&mut blobs.open(&file.blob_id)?, &mut out).map_err(BlobError::Io)?;
            if written != file.size {
                // Changed since it was checked: send nothing rather than a different file.
                return Err(BlobError::Sealed);
            }
        }
        out.extend_from_slice(rest);
        Ok(out)
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
}

/// Appends `reader`'s bytes base64-encoded (76-character lines joined by CRLF, none after
/// the last, as lettre does) and returns how many bytes were read.
fn encode_file(reader: &mut impl Read, out: &mut Vec<u8>) -> io::Result<u64> {
    let mut block = vec![0u8; LINE * LINES_PER_READ];
    let mut line = [0u8; 76];
    let mut total = 0u64;
    loop {
        let filled = read_full(reader, &mut block)?;
        for piece in block[..filled].chunks(LINE) {
            let encoded = STANDARD
                .encode_slice(piece, &mut line)
                .map_err(io::Error::other)?;
            if total > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(&line[..encoded]);
            total += piece.len() as u64;
        }
        if filled < block.len() {
            return Ok(total);
        }
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Sends `bytes` to the envelope's recipients over an open (and signed-in) connection, in
/// pieces of [`SEND_PIECE`], and says goodbye.
pub async fn send(
    connection: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<(), lettre::transport::smtp::Error> {
    let result = transfer(connection, envelope, bytes).await;
    match result {
        Ok(()) => {
            let _ = connection.quit().await;
            Ok(())
        }
        Err(error) => {
            connection.abort().await;
            Err(error)
        }
    }
}

async fn transfer(
    connection: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<(), lettre::transport::smtp::Error> {
    let mut parameters = Vec::new();
    let addresses = envelope.from().into_iter().chain(envelope.to());
    if addresses.map(AsRef::<str>::as_ref).any(|a| !a.is_ascii()) {
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() {
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    connection
        .command(Mail::new(envelope.from().cloned(), parameters))
        .await?;
    for to in envelope.to() {
        connection
            .command(Rcpt::new(to.clone(), Vec::new()))
            .await?;
    }
    connection.command(Data).await?;
    connection.message_iter(bytes.chunks(SEND_PIECE)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_encoded_as_lettre_encodes_them_at_every_length() {
        for size in [
            0usize,
            1,
            2,
            3,
            56,
            57,
            58,
            114,
            57 * 1024,
            57 * 1024 + 1,
            200_001,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 13 % 256) as u8 ^ 0x80).collect();
            let mut ours = Vec::new();
            let read = encode_file(&mut io::Cursor::new(&data), &mut ours).unwrap();
            assert_eq!(read, size as u64);
            let mut theirs = String::new();
            email_encoding_reference(&data, &mut theirs);
            assert_eq!(
                String::from_utf8(ours.clone()).unwrap(),
                theirs,
                "size {size}"
            );
            assert_eq!(ours.len(), encoded_len(size as u64), "size {size}");
        }
    }

    /// lettre's own encoding of a body, taken from the part it formats.
    fn email_encoding_reference(data: &[u8], out: &mut String) {
        use lettre::message::{Attachment, MultiPart, header::ContentType};
        let part = Attachment::new("x".into()).body(
            data.to_vec(),
            ContentType::parse("application/octet-stream").unwrap(),
        );
        let formatted = String::from_utf8(MultiPart::mixed().singlepart(part).formatted()).unwrap();
        // The multipart's headers, the part's headers, then the body and the closing line.
        let (_, part) = formatted.split_once("\r\n\r\n").unwrap();
        let (_, body) = part.split_once("\r\n\r\n").unwrap();
        let body = body.rsplit_once("\r\n--").unwrap().0;
        out.push_str(body);
    }
}
