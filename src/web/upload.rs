//! Forms with files (`enctype="multipart/form-data"`, no JavaScript needed): [`CsrfUpload`]
//! reads the text fields and the files of a form, checks the `csrf` field exactly as
//! [`CsrfForm`](super::CsrfForm) does, and keeps each file only while it is within the limits:
//! `LETHE_MAX_ATTACHMENT_MB` for one file and [`MAX_FILES_BYTES`] for all files of one form.
//! A file over a limit is read to its end and dropped, and named in [`Upload::rejected`], so
//! the handler can show the form again with the typed text and a clear message, storing
//! nothing. A URL-encoded body is accepted too (a form without files).
//!
//! Files are never held whole in memory: each is sealed into the attachment store's staging
//! directory as it arrives ([`BlobWriter`], [`WRITE_BLOCK`] at a time, off the async threads),
//! its content digest computed on the way. The moment a file breaks a limit its partial file
//! is deleted; a kept file waits as a [`StagedBlob`] that the handler commits when it stores
//! the message, and that is deleted if the handler drops it (a form shown again).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::error::AppError;
use super::forms::{FORM_LIMIT, checked_fields, content_length, read_limited};
use super::session::SessionState;
use crate::mail::blobs::{BlobError, BlobStore, BlobWriter, StagedBlob};
use crate::state::AppState;

/// All files of one form (one message) together: 25 MB.
pub const MAX_FILES_BYTES: usize = 25 * 1024 * 1024;

/// A body larger than this is refused (413) without reading it: it is more than the files
/// and text of one form could be, even with an oversized file that is read and dropped.
pub const MAX_BODY_BYTES: usize = 4 * MAX_FILES_BYTES;

/// Bytes of a file gathered before they are sealed and written (off the async threads).
pub const WRITE_BLOCK: usize = 256 * 1024;

/// A file of the form, within the limits: sealed in the store's staging directory.
pub struct UploadedFile {
    /// Sanitized: no path, no control characters; `attachment-N` when the browser sent none.
    pub filename: String,
    /// Lower-case `type/subtype` as the browser declared it, else `application/octet-stream`.
    pub content_type: String,
    /// Deleted when dropped, unless committed to the store.
    pub blob: StagedBlob,
}

/// Which limit a dropped file broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `LETHE_MAX_ATTACHMENT_MB` for one file.
    File,
    /// [`MAX_FILES_BYTES`] for the files of the form together.
    Message,
}

/// A file that was read to its end and dropped.
pub struct RejectedFile {
    pub filename: String,
    pub size: usize,
    pub limit: Limit,
    /// The limit in bytes.
    pub limit_bytes: usize,
}

/// The fields of a form (as `T`) and its files.
pub struct Upload<T> {
    pub form: T,
    pub files: Vec<UploadedFile>,
    /// Files over a limit (not kept). Non-empty means: store nothing, show the form again.
    pub rejected: Vec<RejectedFile>,
}

/// A multipart (or URL-encoded) form whose `csrf` field matched the session's token.
pub struct CsrfUpload<T>(pub Upload<T>);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfUpload<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<Arc<SessionState>>().cloned();
        let content_type = req.content_type().to_ascii_lowercase();
        let declared = content_length(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let headers = req.headers().clone();
        let payload = payload.take();
        Box::pin(async move {
            if content_type == "application/x-www-form-urlencoded" {
                let body = read_limited(declared, payload, FORM_LIMIT, "error.bad_form").await?;
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                    .map_err(|_| AppError::BadRequest("error.bad_form"))?;
                let form = checked_fields(session.as_deref(), pairs)?;
                return Ok(CsrfUpload(Upload {
                    form,
                    files: Vec::new(),
                    rejected: Vec::new(),
                }));
            }
            if content_type != "multipart/form-data" {
                return Err(AppError::BadRequest("error.bad_form"));
            }
            if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
                return Err(AppError::PayloadTooLarge);
            }
            let state = state.ok_or_else(|| AppError::internal("no application state"))?;
            let parts = read_parts(
                Multipart::new(&headers, payload),
                &state.blobs,
                state.config.max_attachment_bytes,
            )
            .await?;
            let form = checked_fields(session.as_deref(), parts.fields)?;
            Ok(CsrfUpload(Upload {
                form,
                files: parts.files,
                rejected: parts.rejected,
            }))
        })
    }
}

/// A request body that is one file (no multipart around it, as the chat widget sends it),
/// sealed into the store's staging directory as it arrives, like a form's files: never held
/// whole in memory. Over `limit` bytes (declared or read) it is refused with
/// [`AppError::PayloadTooLarge`] and its partial file deleted.
pub async fn seal_body(
    declared: Option<usize>,
    mut payload: Payload,
    blobs: &BlobStore,
    limit: usize,
) -> Result<StagedBlob, AppError> {
    if declared.is_some_and(|length| length > limit) {
        return Err(AppError::PayloadTooLarge);
    }
    let mut sealing = Sealing::new(blobs)?;
    let mut read = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::BadRequest("error.bad_form"))?;
        read += chunk.len();
        if read > limit {
            // Dropping the writer deletes the partial file.
            return Err(AppError::PayloadTooLarge);
        }
        sealing = sealing.take(&chunk).await?;
    }
    sealing.finish().await
}

struct Parts {
    fields: Vec<(String, String)>,
    files: Vec<UploadedFile>,
    rejected: Vec<RejectedFile>,
}

/// The file being sealed: the writer (on a blocking thread while a block is written) and the
/// bytes gathered for the next block.
struct Sealing {
    writer: BlobWriter,
    pending: Vec<u8>,
}

impl Sealing {
    fn new(blobs: &BlobStore) -> Result<Self, AppError> {
        Ok(Self {
            writer: blobs.writer().map_err(AppError::internal)?,
            pending: Vec::with_capacity(WRITE_BLOCK),
        })
    }

    /// Seals and writes what is gathered, off the async threads.
    async fn write_pending(self) -> Result<Self, AppError> {
        let Sealing {
            mut writer,
            mut pending,
        } = self;
        let (writer, pending) = web::block(move || {
            std::io::Write::write_all(&mut writer, &pending)?;
            pending.clear();
            Ok::<_, BlobError>((writer, pending))
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
        Ok(Self { writer, pending })
    }

    async fn take(mut self, chunk: &[u8]) -> Result<Self, AppError> {
        self.pending.extend_from_slice(chunk);
        if self.pending.len() >= WRITE_BLOCK {
            self = self.write_pending().await?;
        }
        Ok(self)
    }

    /// Writes the rest and seals the final chunk: the file waits in the staging directory.
    async fn finish(self) -> Result<StagedBlob, AppError> {
        let Sealing { writer, .. } = self.write_pending().await?;
        web::block(move || writer.finish())
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)
    }
}

async fn read_parts(
    mut multipart: Multipart,
    blobs: &BlobStore,
    per_file: usize,
) -> Result<Parts, AppError> {
    let malformed = || AppError::BadRequest("error.bad_form");
    let per_file = per_file.min(MAX_FILES_BYTES);
    let mut parts = Parts {
        fields: Vec::new(),
        files: Vec::new(),
        rejected: Vec::new(),
    };
    let (mut text_bytes, mut body_bytes, mut kept_bytes) = (0usize, 0usize, 0usize);
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|_| malformed())?;
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let Some(filename) = filename else {
            // A text field.
            let mut value = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|_| malformed())?;
                text_bytes += chunk.len();
                if text_bytes > FORM_LIMIT {
                    return Err(AppError::PayloadTooLarge);
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value).map_err(|_| malformed())?;
            parts.fields.push((name, value));
            continue;
        };
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_ascii_lowercase())
            .filter(|t| t.contains('/') && t != "application/x-unknown")
            .unwrap_or_else(|| "application/octet-stream".into());
        // Sealed as it arrives, from its first byte (an empty file input sends none).
        let mut sealing: Option<Sealing> = None;
        let mut size = 0usize;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| malformed())?;
            size += chunk.len();
            body_bytes += chunk.len();
            if body_bytes > MAX_BODY_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
            if size <= per_file && kept_bytes + size <= MAX_FILES_BYTES {
                let current = match sealing.take() {
                    Some(current) => current,
                    None => Sealing::new(blobs)?,
                };
                sealing = Some(current.take(&chunk).await?);
            } else {
                // Over a limit: the partial file is deleted now, the rest read and dropped.
                sealing = None;
            }
        }
        // A file input left empty sends a part with no name and no bytes.
        if filename.is_empty() && size == 0 {
            continue;
        }
        let number = parts.files.len() + parts.rejected.len() + 1;
        let filename = crate::mail::parse::clean_filename(&filename)
            .unwrap_or_else(|| format!("attachment-{number}"));
        if size > per_file {
            parts.rejected.push(RejectedFile {
                filename,
                size,
                limit: Limit::File,
                limit_bytes: per_file,
            });
        } else if kept_bytes + size > MAX_FILES_BYTES {
            parts.rejected.push(RejectedFile {
                filename,
                size: kept_bytes + size,
                limit: Limit::Message,
                limit_bytes: MAX_FILES_BYTES,
            });
        } else {
            kept_bytes += size;
            let sealing = match sealing {
                Some(sealing) => sealing,
                // A named file with no bytes.
                None => Sealing::new(blobs)?,
            };
            parts.files.push(UploadedFile {
                filename,
                content_type,
                blob: sealing.finish().await?,
            });
        }
    }
    Ok(parts)
}
