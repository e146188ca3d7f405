//! What an agent adds to a message beyond its text: files attached to a reply or a note.
//! They are stored like inbound attachments — sealed, named by a keyed digest of their
//! content, written before the row that refers to them commits — as attachment rows of the
//! message, so the conversation page, downloads, export, erasure, retention and
//! anonymization reach them as they reach inbound ones. The sender reads them back from the
//! store when the reply goes out.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, Set};

use super::MailError;
use super::blobs::BlobStore;
use crate::db::entity::attachment;
use crate::orgs::OrgId;

/// A file an agent attached, not yet stored.
pub struct NewAttachment {
    /// Already sanitized (no path, no control characters).
    pub filename: String,
    /// Lower-case `type/subtype`.
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A file in the attachment store, waiting for its row.
pub struct SealedAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub blob_id: String,
}

/// A stored file read back for sending.
pub struct OutgoingFile {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Seals and stores the files (off the async threads). Storing comes before the rows commit:
/// a committed row never points at a missing file; a file whose row never commits (a refused
/// reply) is taken by the orphan sweep.
pub async fn seal(
    blobs: &BlobStore,
    files: Vec<NewAttachment>,
) -> Result<Vec<SealedAttachment>, MailError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let blobs = blobs.clone();
    let sealed = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|file| {
                let blob_id = blobs.put(&file.data)?;
                Ok(SealedAttachment {
                    size: i64::try_from(file.data.len()).unwrap_or(i64::MAX),
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

/// The files of message `message_id`, opened from the store, in the order they were attached.
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
                    data: blobs.get(&row.blob_id)?,
                    filename: row.filename,
                    content_type: row.content_type,
                })
            })
            .collect::<Result<Vec<_>, super::blobs::BlobError>>()
    })
    .await??;
    Ok(files)
}
