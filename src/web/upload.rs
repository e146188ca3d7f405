//! Forms with files (`enctype="multipart/form-data"`, no JavaScript needed): [`CsrfUpload`]
//! reads the text fields and the files of a form, checks the `csrf` field exactly as
//! [`CsrfForm`](super::CsrfForm) does, and keeps each file only while it is within the limits:
//! `LETHE_MAX_ATTACHMENT_MB` for one file and [`MAX_FILES_BYTES`] for all files of one form.
//! A file over a limit is read to its end and dropped, and named in [`Upload::rejected`], so
//! the handler can show the form again with the typed text and a clear message, storing
//! nothing. A URL-encoded body is accepted too (a form without files).

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
use crate::state::AppState;

/// All files of one form (one message) together: 25 MB.
pub const MAX_FILES_BYTES: usize = 25 * 1024 * 1024;

/// A body larger than this is refused (413) without reading it: it is more than the files
/// and text of one form could be, even with an oversized file that is read and dropped.
pub const MAX_BODY_BYTES: usize = 4 * MAX_FILES_BYTES;

/// A file of the form, within the limits.
pub struct UploadedFile {
    /// Sanitized: no path, no control characters; `attachment-N` when the browser sent none.
    pub filename: String,
    /// Lower-case `type/subtype` as the browser declared it, else `application/octet-stream`.
    pub content_type: String,
    pub data: Vec<u8>,
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
        let per_file = req
            .app_data::<web::Data<AppState>>()
            .map_or(MAX_FILES_BYTES, |s| s.config.max_attachment_bytes);
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
            let parts = read_parts(Multipart::new(&headers, payload), per_file).await?;
            let form = checked_fields(session.as_deref(), parts.fields)?;
            Ok(CsrfUpload(Upload {
                form,
                files: parts.files,
                rejected: parts.rejected,
            }))
        })
    }
}

struct Parts {
    fields: Vec<(String, String)>,
    files: Vec<UploadedFile>,
    rejected: Vec<RejectedFile>,
}

async fn read_parts(mut multipart: Multipart, per_file: usize) -> Result<Parts, AppError> {
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
        let mut data = Vec::new();
        let mut size = 0usize;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| malformed())?;
            size += chunk.len();
            body_bytes += chunk.len();
            if body_bytes > MAX_BODY_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
            if size <= per_file && kept_bytes + size <= MAX_FILES_BYTES {
                data.extend_from_slice(&chunk);
            } else if !data.is_empty() {
                // Over a limit: the rest is read and dropped.
                data = Vec::new();
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
            parts.files.push(UploadedFile {
                filename,
                content_type,
                data,
            });
        }
    }
    Ok(parts)
}
