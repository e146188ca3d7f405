//! What an agent adds to a message beyond its text: files attached to a reply or a note.
//! They are stored like inbound attachments — sealed, named by a keyed digest of their
//! content, written before the row that refers to them commits — as attachment rows of the
//! message, so the conversation page, downloads, export, erasure, retention and
//! anonymization reach them as they reach inbound ones. The sender reads them back from the
//! store, a chunk at a time, when the reply goes out (`mail::outgoing`).
//!
//! An uploaded file arrives here already sealed in the store's staging directory
//! (`web::upload`); storing it is moving it to its name.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, Set};

use super::EmailAddress;
use super::MailError;
use super::blobs::{BlobStore, StagedBlob};
use crate::db::entity::attachment;
use crate::orgs::OrgId;

/// A file an agent attached, sealed but not yet stored under its name.
pub struct NewAttachment {
    /// Already sanitized (no path, no control characters).
    pub filename: String,
    /// Lower-case `type/subtype`.
    pub content_type: String,
    pub blob: StagedBlob,
}

/// A file in the attachment store, waiting for its row.
pub struct SealedAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub blob_id: String,
}

/// A stored file to send: read from the store when the mail is written out.
pub struct OutgoingFile {
    pub filename: String,
    pub content_type: String,
    pub blob_id: String,
    /// Plaintext bytes (checked against the file before anything is sent).
    pub size: u64,
}

/// Stores the sealed files under their names (off the async threads). Storing comes before the rows commit:
/// a committed row never points at a missing file; a file whose row never commits (a refused
/// reply) is taken by the orphan sweep.
pub async fn seal(files: Vec<NewAttachment>) -> Result<Vec<SealedAttachment>, MailError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let sealed = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|file| {
                let size = i64::try_from(file.blob.size()).unwrap_or(i64::MAX);
                let blob_id = file.blob.commit()?;
                Ok(SealedAttachment {
                    size,
                    filename: file.filename,
                    content_type: file.content_type,
                    blob_id,
                })
            })
            .collect::<Result<Vec<_>, super::blobs::BlobError>>()
    })
    .await??;
    Ok(sealed)
}

/// Writes the attachment rows of message `message_id` (in the caller's transaction).
pub async fn insert_rows(
    db: &impl ConnectionTrait,
    org: OrgId,
    message_id: i64,
    files: &[SealedAttachment],
) -> Result<(), MailError> {
    for file in files {
        attachment::ActiveModel {
            organization_id: Set(org),
            message_id: Set(message_id),
            filename: Set(file.filename.clone()),
            content_type: Set(file.content_type.clone()),
            content_id: Set(None),
            inline: Set(false),
            size: Set(file.size),
            blob_id: Set(file.blob_id.clone()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The files of message `message_id`, in the order they were attached, each read once through
/// (every chunk opens, the length is known) so that a damaged file fails the send before the
/// first byte goes out; nothing is kept in memory.
pub async fn files_of(
    db: &impl ConnectionTrait,
    blobs: &BlobStore,
    org: OrgId,
    message_id: i64,
) -> Result<Vec<OutgoingFile>, MailError> {
    use crate::db::InOrg;
    let rows = attachment::Entity::find_in(org)
        .filter(attachment::Column::MessageId.eq(message_id))
        .order_by_asc(attachment::Column::Id)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let blobs = blobs.clone();
    let files = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .map(|row| {
                Ok(OutgoingFile {
                    size: blobs.verify(&row.blob_id)?,
                    blob_id: row.blob_id,
                    filename: row.filename,
                    content_type: row.content_type,
                })
            })
            .collect::<Result<Vec<_>, super::blobs::BlobError>>()
    })
    .await??;
    Ok(files)
}

/// Whom an agent chose to send a reply to. Empty `cc` and `bcc` are the usual case.
#[derive(Default)]
pub struct Recipients {
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub bcc: Vec<EmailAddress>,
}

impl Recipients {
    /// Every address, To then Cc then Bcc.
    pub fn all(&self) -> impl Iterator<Item = &EmailAddress> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }
}

/// An address list as typed in a form: addresses separated by commas, semicolons or line
/// breaks, each bare or as `Name <address>`; doubles dropped. `Err` holds every entry that is
/// not an address, as typed (for the message naming it).
pub fn parse_list(field: &str) -> Result<Vec<EmailAddress>, Vec<String>> {
    let mut good: Vec<EmailAddress> = Vec::new();
    let mut bad = Vec::new();
    for entry in field.split([',', ';', '\n', '\r']) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let address = match (entry.rfind('<'), entry.ends_with('>')) {
            (Some(open), true) => &entry[open + 1..entry.len() - 1],
            _ => entry,
        };
        match EmailAddress::parse(address) {
            Ok(address) if !good.contains(&address) => good.push(address),
            Ok(_) => {}
            Err(_) => bad.push(entry.to_owned()),
        }
    }
    if bad.is_empty() { Ok(good) } else { Err(bad) }
}

/// A list as stored in `to_addresses`, `cc_addresses`, `bcc_addresses`.
pub fn join(list: &[EmailAddress]) -> String {
    list.iter()
        .map(EmailAddress::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The addresses of a stored list.
pub fn split_stored(stored: &str) -> impl Iterator<Item = &str> {
    stored.split(',').map(str::trim).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_take_commas_semicolons_lines_and_names_and_name_bad_entries() {
        let list = parse_list("a@shop.test; Bea <B@Shop.test>,\n a@shop.test ,").unwrap();
        assert_eq!(join(&list), "a@shop.test, b@shop.test");
        assert_eq!(
            parse_list("ok@shop.test, nope@, x y@shop.test").err(),
            Some(vec!["nope@".to_owned(), "x y@shop.test".to_owned()])
        );
        assert_eq!(parse_list("  ").ok().map(|l| l.len()), Some(0));
    }
}
