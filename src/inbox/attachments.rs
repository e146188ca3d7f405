//! Attachment downloads (`/attachments/{id}`): scoped by organization, always as a download
//! (`Content-Disposition: attachment`), as `application/octet-stream` unless the file is a
//! harmless image type, never sniffed by the browser, and sent from the store a chunk at a
//! time; and the mapping of a message's `cid:` image sources onto those downloads, so inline
//! images show in the thread.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

use crate::db::InOrg;
use crate::db::entity::attachment;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::AppError;
use crate::web::paths;

/// Image types a browser shows without running anything (no SVG).
const SAFE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The content type to send: the stored one if it is a safe image type, else a plain download.
pub fn served_content_type(stored: &str) -> &'static str {
    let stored = stored.trim().to_ascii_lowercase();
    SAFE_TYPES
        .iter()
        .find(|t| **t == stored)
        .copied()
        .unwrap_or("application/octet-stream")
}

/// A `src="cid:…"` attribute as the sanitizer serializes it.
static CID_SRC: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r#"(\s)src="(?i:cid):([^"]*)""#).ok());

/// The sanitized `html` of a message with each `cid:` image source that names one of the
/// message's attachments (Content-ID → attachment id) pointed at that attachment's download.
/// A `cid:` naming nothing stays as it is: it loads nothing.
pub fn with_inline_images(html: &str, by_content_id: &HashMap<String, i64>) -> String {
    let Some(pattern) = CID_SRC.as_ref() else {
        return html.to_owned();
    };
    if by_content_id.is_empty() {
        return html.to_owned();
    }
    pattern
        .replace_all(html, |caps: &regex::Captures<'_>| {
            let reference = percent_decoded(caps[2].trim());
            let reference = reference.trim_start_matches('<').trim_end_matches('>');
            match by_content_id.get(reference) {
                Some(id) => format!("{}src=\"{}\"", &caps[1], paths::ATTACHMENT.at(id)),
                None => caps[0].to_owned(),
            }
        })
        .into_owned()
}

/// `cid:` URLs percent-encode the Content-ID (RFC 2392); invalid escapes stay as they are.
fn percent_decoded(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

/// `attachment; filename*=UTF-8''…` with the name percent-encoded (RFC 6266 / RFC 8187).
pub fn content_disposition(filename: &str) -> String {
    let name = if filename.trim().is_empty() {
        "attachment"
    } else {
        filename
    };
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename*=UTF-8''{encoded}")
}

pub async fn download(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let found = attachment::Entity::find_by_id_in(scope.org(), path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if !scope.role().is_admin()
        && crate::privacy::restrict::of_message(&state.db, scope.org(), found.message_id)
            .await?
            .is_some()
    {
        // Agents see a restricted customer's conversations as a banner only; their files
        // are as hidden as the thread.
        return Err(AppError::NotFound);
    }
    // Opened before the answer starts (a missing or foreign file is an error page, not a cut
    // download), then sent a chunk at a time from the store.
    let blobs = state.blobs.clone();
    let blob_id = found.blob_id.clone();
    let mut file = web::block(move || blobs.open(&blob_id))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let body = crate::web::zip_stream::stream("attachment", move |_, mut sink| {
        std::io::copy(&mut file, &mut sink)?;
        std::io::Write::flush(&mut sink)
    });
    // The access log: whose file this is (its message's conversation and customer).
    let owner: Option<(i64, i64)> = crate::db::entity::conversation::Entity::lookup_in(scope.org())
        .select_only()
        .column(crate::db::entity::conversation::Column::Id)
        .column(crate::db::entity::conversation::Column::CustomerId)
        .filter(
            crate::db::entity::conversation::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(crate::db::entity::message::Column::ConversationId)
                    .from(crate::db::entity::message::Entity)
                    .and_where(crate::db::entity::message::Column::Id.eq(found.message_id))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .one(&state.db)
        .await?;
    state.access.opened(
        &scope,
        crate::audit::access::Kind::Attachment,
        owner.map(|(_, customer)| customer),
        owner.map(|(conversation, _)| conversation),
    );
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            served_content_type(&found.content_type),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&found.filename),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        // Its length is known (the stored size of the opened file): browsers show progress
        // and a cut transfer is seen as one.
        .body(actix_web::body::SizedStream::new(
            u64::try_from(found.size).unwrap_or(0),
            body,
        )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_percent_encoded_and_types_limited() {
        assert_eq!(
            content_disposition("Rechnung März \"1\".pdf"),
            "attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz%20%221%22.pdf"
        );
        assert_eq!(served_content_type("image/PNG"), "image/png");
        assert_eq!(
            served_content_type("image/svg+xml"),
            "application/octet-stream"
        );
        assert_eq!(served_content_type("text/html"), "application/octet-stream");
    }

    #[test]
    fn cid_sources_point_at_the_named_attachment_and_others_stay() {
        let ids = HashMap::from([("logo@shop".to_owned(), 7), ("a b".to_owned(), 9)]);
        let html =
            r#"<p><img src="cid:logo@shop" alt="x"><img src="CID:a%20b"><img src="cid:gone"></p>"#;
        assert_eq!(
            with_inline_images(html, &ids),
            r#"<p><img src="/attachments/7" alt="x"><img src="/attachments/9"><img src="cid:gone"></p>"#
        );
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes() {
        assert_eq!(percent_decoded("a%40b%zz%4"), "a@b%zz%4");
    }
}
