//! Export (right of access and portability, GDPR Art. 15 and 20): one ZIP holding
//! `export.json`, `README.txt` (the format, in words), `README.html` (the complete answer of
//! Art. 15 in words: src/privacy/answer.rs) and every attachment, opened from the
//! sealed store.
//!
//! `export.json` (`schema` = [`SCHEMA`], `schema_version` = [`SCHEMA_VERSION`]):
//!
//! ```text
//! { schema, schema_version, generated_at, includes_internal_notes,
//!   customer: { id, display_name, created_at, email_addresses: [string], phone,
//!               postal_address, processing_restricted: null | { since, reason },
//!               objection: null | { since, effects: [exclude_reports|stop_processing] } },
//!   conversations: [ { id, reference, subject, status, tags: [string], created_at,
//!                      last_activity_at, closed_at,
//!     messages: [ { id, date, sent_at, direction: inbound|outbound|note, internal,
//!                   from: { name, address }, to: [string], cc: [string], bcc: [string], subject,
//!                   text, html, delivery_status,
//!       attachments: [ { filename, content_type, size, inline, file } ] } ],
//!     drafts: [ { saved_at, to: [string], cc: [string], bcc: [string], text } ],
//!     suggestions: [ { made_at, for_message_id, kind, title, text, shown, outcome } ] } ],
//!   access_log: [ { at, by, what, conversation_id } ],
//!   about_processing: { language, purposes: [string], legal_basis,
//!     processing: [ { purpose, legal_bases: [ { name, article, text } ] } ],
//!     retention: [string],
//!     recipients: { team_members: [string], systems: [ { kind, name, deliveries, last_at } ] },
//!     sources: [ { conversation_id, channel } ], rights: [string] } }
//! ```
//!
//! Dates are RFC 3339 in UTC; `file` is the attachment's path inside the ZIP.
//!
//! Form of the customer page: `POST /customers/{id}/export` (admins and owners) answers the
//! ZIP as a download; `/api/v1` and the command line build the same file.

use std::collections::BTreeMap;
use std::io::Write;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::PrivacyError;
use super::erase::{Performer, find_customer};
use super::requests::{self, Kind};
use crate::db::InOrg;
use crate::db::entity::{attachment, conversation, conversation_tag, message, tag};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::checkbox;
use crate::web::i18n::Lang;
use crate::web::{AppError, CsrfForm};

pub const SCHEMA: &str = "lethe.customer-export";
pub const SCHEMA_VERSION: u32 = 1;

const README: &str = "Lethe customer data export\n\
==========================\n\n\
export.json holds everything this shop's support inbox stores about one customer:\n\n\
- schema, schema_version: \"lethe.customer-export\", 1\n\
- generated_at: when this file was made (RFC 3339, UTC)\n\
- includes_internal_notes: whether the team's internal notes are included\n\
- customer: id, display_name, created_at, email_addresses, phone and postal_address\n\
  (null when unknown), processing_restricted (null, or since when and why the shop\n\
  restricted the processing of this data), objection (null, or since when an objection\n\
  is in force and its effects: exclude_reports, stop_processing), blocked_as_spam (the\n\
  customer's addresses whose mail the shop files as spam)\n\
- conversations: one entry per conversation with its reference, subject, status, tags,\n\
  created_at, last_activity_at, closed_at and its messages\n\
- messages: date (stored at), sent_at (outbound only), direction (inbound = from the\n\
  customer, outbound = a reply, note = an internal note), internal, from, to, cc, bcc, subject,\n\
  text, html, delivery_status and attachments\n\
- attachments: filename, content_type, size in bytes, inline, and file: the path of the\n\
  file inside this archive (attachments/<message id>/<attachment id>-<name>)\n\
- drafts: replies to you that the team started writing and has not sent (saved_at, to,\n\
  cc, bcc, text)\n\
- suggestions: texts the shop's software suggested to the team for answering your messages\n\
  (made_at, for_message_id, kind, title, text, shown, outcome: used, edited or ignored)\n\
- access_log: who of the shop's team opened this data and when (at, by, what:\n\
  conversation, customer, attachment, export or search, conversation_id)\n\
- about_processing: the language of these texts, the purposes, the legal basis, processing\n\
  (each purpose with its legal bases: name, article, text), the retention periods in words, the\n\
  recipients (team_members; systems such as webhook endpoints that were sent data about\n\
  you, with how many deliveries), the sources (the channel of each conversation) and\n\
  your rights; README.html says the same in words\n";

#[derive(Serialize)]
struct ExportFile {
    schema: &'static str,
    schema_version: u32,
    generated_at: DateTime<Utc>,
    includes_internal_notes: bool,
    customer: CustomerRecord,
    conversations: Vec<ConversationRecord>,
    /// Who opened the data, when (src/audit/access.rs), oldest first.
    access_log: Vec<super::answer::AccessRecord>,
    /// Purposes, legal basis, retention, recipients, sources, rights (src/privacy/answer.rs).
    about_processing: super::answer::AboutProcessing,
}

#[derive(Serialize)]
struct CustomerRecord {
    id: i64,
    display_name: String,
    created_at: DateTime<Utc>,
    email_addresses: Vec<String>,
    phone: Option<String>,
    postal_address: Option<String>,
    processing_restricted: Option<RestrictionRecord>,
    /// The objection in force (src/privacy/objection.rs): since when, and its effects.
    objection: Option<ObjectionRecord>,
    /// Which of the customer's addresses the shop blocks as a spam sender (src/inbox/spam.rs).
    blocked_as_spam: Vec<String>,
}

#[derive(Serialize)]
struct ObjectionRecord {
    since: Option<DateTime<Utc>>,
    effects: Vec<&'static str>,
}

#[derive(Serialize)]
struct RestrictionRecord {
    since: DateTime<Utc>,
    reason: String,
}

#[derive(Serialize)]
struct ConversationRecord {
    id: i64,
    reference: String,
    subject: String,
    status: String,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    messages: Vec<MessageRecord>,
    /// Replies the team started and has not sent (src/inbox/drafts.rs).
    drafts: Vec<DraftRecord>,
    /// What was suggested for answering the customer (src/assist/suggest/).
    suggestions: Vec<SuggestionRecord>,
}

#[derive(Serialize)]
struct SuggestionRecord {
    made_at: DateTime<Utc>,
    for_message_id: i64,
    kind: String,
    title: String,
    text: String,
    shown: bool,
    outcome: Option<String>,
}

#[derive(Serialize)]
struct DraftRecord {
    saved_at: DateTime<Utc>,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    text: String,
}

#[derive(Serialize)]
struct Party {
    name: String,
    address: String,
}

#[derive(Serialize)]
struct MessageRecord {
    id: i64,
    date: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    direction: String,
    internal: bool,
    from: Party,
    to: Vec<String>,
    cc: Vec<String>,
    /// Blind copies of a reply (never in its headers).
    bcc: Vec<String>,
    subject: String,
    text: String,
    html: Option<String>,
    delivery_status: Option<String>,
    attachments: Vec<AttachmentRecord>,
}

#[derive(Serialize)]
struct AttachmentRecord {
    filename: String,
    content_type: String,
    size: i64,
    inline: bool,
    file: String,
    #[serde(skip)]
    blob_id: String,
}

/// What an export holds, read from the database; the attachment files are opened only while
/// the ZIP is written ([`write_entries`]).
pub struct Collected {
    file: ExportFile,
    /// `README.html`: the Art. 15 information, readable.
    readme_html: String,
    pub conversations: usize,
    pub messages: usize,
    pub attachments: usize,
}

fn address_list(stored: &str) -> Vec<String> {
    crate::mail::compose::split_stored(stored)
        .map(str::to_owned)
        .collect()
}

/// A file name safe inside a ZIP on every system: letters, digits, `.`, `-`, `_`.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned
    }
}

async fn tags_by_conversation(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_ids: &[i64],
) -> Result<BTreeMap<i64, Vec<String>>, sea_orm::DbErr> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for chunk in conversation_ids.chunks(500) {
        let links = conversation_tag::Entity::find()
            .filter(conversation_tag::Column::ConversationId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        let tag_ids: Vec<i64> = links.iter().map(|l| l.tag_id).collect();
        let names: BTreeMap<i64, String> = tag::Entity::find_in(org)
            .filter(tag::Column::Id.is_in(tag_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        for link in links {
            if let Some(name) = names.get(&link.tag_id) {
                out.entry(link.conversation_id)
                    .or_default()
                    .push(name.clone());
            }
        }
    }
    for names in out.values_mut() {
        names.sort();
    }
    Ok(out)
}

/// Everything `org` stores about the customer. Internal notes only when asked. The
/// information about the processing is in the customer's language where known, else English.
pub async fn collect(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    include_notes: bool,
) -> Result<Collected, PrivacyError> {
    collect_in(state, org, customer_id, include_notes, Lang::En).await
}

/// The customer's latest messages that tell their language.
const LANGUAGE_SAMPLE: usize = 50;

/// The start of `text`, at most `n` bytes, cut at a character boundary.
fn first_chars(text: &str, n: usize) -> &str {
    let mut end = n.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// [`collect`], with the information about the processing in the customer's language (from
/// what they wrote, when it is English, German or French), else in `lang`.
pub async fn collect_in(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    include_notes: bool,
    lang: Lang,
) -> Result<Collected, PrivacyError> {
    let db = &state.db;
    let found = find_customer(db, org, customer_id)
        .await?
        .ok_or(PrivacyError::NotFound)?;
    let email_addresses: Vec<String> = crate::inbox::customers::emails(db, org, found.id)
        .await?
        .into_iter()
        .map(|address| address.email)
        .collect();
    let conversations = conversation::Entity::find_in(org)
        .filter(conversation::Column::CustomerId.eq(found.id))
        .order_by_asc(conversation::Column::CreatedAt)
        .order_by_asc(conversation::Column::Id)
        .all(db)
        .await?;
    let conversation_ids: Vec<i64> = conversations.iter().map(|c| c.id).collect();
    let mut tags = tags_by_conversation(db, org, &conversation_ids).await?;

    let mut records = Vec::with_capacity(conversations.len());
    // What the customer wrote (subject, start of the text): the language they read.
    let mut written: Vec<(String, String)> = Vec::new();
    let (mut message_total, mut attachment_total) = (0, 0);
    for c in conversations {
        let mut query =
            message::Entity::find_in(org).filter(message::Column::ConversationId.eq(c.id));
        if !include_notes {
            query = query.filter(message::Column::Direction.ne("note"));
        }
        let messages = query.order_by_asc(message::Column::Id).all(db).await?;
        written.extend(
            messages
                .iter()
                .filter(|m| m.direction == "inbound")
                .map(|m| {
                    (
                        m.subject.clone(),
                        first_chars(&m.text_body, 2000).to_owned(),
                    )
                }),
        );
        let message_ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        let mut attachments: BTreeMap<i64, Vec<AttachmentRecord>> = BTreeMap::new();
        for chunk in message_ids.chunks(500) {
            for a in attachment::Entity::lookup_in(org)
                .filter(attachment::Column::MessageId.is_in(chunk.iter().copied()))
                .order_by_asc(attachment::Column::Id)
                .all(db)
                .await?
            {
                attachments
                    .entry(a.message_id)
                    .or_default()
                    .push(AttachmentRecord {
                        file: format!(
                            "attachments/{}/{}-{}",
                            a.message_id,
                            a.id,
                            safe_name(&a.filename)
                        ),
                        filename: a.filename,
                        content_type: a.content_type,
                        size: a.size,
                        inline: a.inline,
                        blob_id: a.blob_id,
                    });
            }
        }
        let messages: Vec<MessageRecord> = messages
            .into_iter()
            .map(|m| {
                let attachments = attachments.remove(&m.id).unwrap_or_default();
                attachment_total += attachments.len();
                MessageRecord {
                    id: m.id,
                    date: m.created_at,
                    sent_at: m.sent_at,
                    internal: m.direction == "note",
                    direction: m.direction,
                    from: Party {
                        name: m.from_name,
                        address: m.from_address,
                    },
                    to: address_list(&m.to_addresses),
                    cc: address_list(&m.cc_addresses),
                    // Bcc is never shown to the other recipients: the customer sees only
                    // their own addresses there, not the third parties copied blindly.
                    bcc: address_list(&m.bcc_addresses)
                        .into_iter()
                        .filter(|a| {
                            email_addresses
                                .iter()
                                .any(|own| own.eq_ignore_ascii_case(a))
                        })
                        .collect(),
                    subject: m.subject,
                    text: m.text_body,
                    html: m.html_body,
                    delivery_status: m.delivery_status,
                    attachments,
                }
            })
            .collect();
        message_total += messages.len();
        let own = |a: &String| email_addresses.iter().any(|e| e.eq_ignore_ascii_case(a));
        let drafts = crate::inbox::drafts::of_conversation(db, org, c.id)
            .await?
            .into_iter()
            .map(|d| DraftRecord {
                saved_at: d.updated_at,
                to: address_list(&d.to_addresses),
                cc: address_list(&d.cc_addresses),
                // As for sent replies: only the customer's own addresses in Bcc.
                bcc: address_list(&d.bcc_addresses)
                    .into_iter()
                    .filter(own)
                    .collect(),
                text: d.text_body,
            })
            .collect();
        let suggestions = crate::assist::suggest::store::of_conversation(db, org, c.id)
            .await?
            .into_iter()
            .map(|s| SuggestionRecord {
                made_at: s.created_at,
                for_message_id: s.message_id,
                kind: s.kind,
                title: s.title,
                text: s.text,
                shown: s.shown,
                outcome: s.outcome,
            })
            .collect();
        records.push(ConversationRecord {
            suggestions,
            id: c.id,
            reference: c.token,
            subject: c.subject,
            status: c.status,
            tags: tags.remove(&c.id).unwrap_or_default(),
            created_at: c.created_at,
            last_activity_at: c.last_activity_at,
            closed_at: c.closed_at,
            messages,
            drafts,
        });
    }
    let conversation_total = records.len();
    let rows = crate::audit::access::all_of_customer(db, org, found.id).await?;
    let names = crate::inbox::queries::user_names(
        db,
        rows.iter()
            .filter_map(|r| r.user_id)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    )
    .await
    .map_err(PrivacyError::internal)?;
    let access_log: Vec<super::answer::AccessRecord> = rows
        .into_iter()
        .map(|r| super::answer::AccessRecord {
            at: r.occurred_at,
            by: r
                .user_id
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_default(),
            what: r.kind,
            conversation_id: r.conversation_id,
        })
        .collect();
    let lang = super::answer::customer_language(
        written
            .iter()
            .rev()
            .take(LANGUAGE_SAMPLE)
            .map(|(s, t)| (s.as_str(), t.as_str())),
    )
    .unwrap_or(lang);
    let about_processing = super::answer::about(db, org, found.id, &access_log, lang).await?;
    let readme_html = askama::Template::render(&super::answer::ReadmeHtml {
        tr: crate::web::i18n::Tr::new(lang),
        name: &found.display_name,
        generated_at: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        about: &about_processing,
        access: &access_log,
        conversations: conversation_total,
        messages: message_total,
        attachments: attachment_total,
    })
    .map_err(PrivacyError::internal)?;
    let file = ExportFile {
        schema: SCHEMA,
        schema_version: SCHEMA_VERSION,
        generated_at: Utc::now(),
        includes_internal_notes: include_notes,
        customer: CustomerRecord {
            id: found.id,
            display_name: found.display_name,
            created_at: found.created_at,
            email_addresses,
            phone: found.phone,
            postal_address: found.postal_address,
            objection: {
                let effects =
                    super::objection::Effects::from_stored(found.objection_effects.as_deref());
                (!effects.is_empty()).then(|| ObjectionRecord {
                    since: found.objection_since,
                    effects: effects.names(),
                })
            },
            blocked_as_spam: crate::inbox::spam::blocked_addresses_of(db, org, found.id).await?,
            processing_restricted: found.restricted_at.map(|since| RestrictionRecord {
                since,
                reason: found.restriction_reason.unwrap_or_default(),
            }),
        },
        conversations: records,
        access_log,
        about_processing,
    };
    Ok(Collected {
        file,
        readme_html,
        conversations: conversation_total,
        messages: message_total,
        attachments: attachment_total,
    })
}

/// The export as one ZIP in memory (the command line writes it to a file).
pub async fn export(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    include_notes: bool,
) -> Result<(Collected, Vec<u8>), PrivacyError> {
    let collected = collect(state, org, customer_id, include_notes).await?;
    let blobs = state.blobs.clone();
    tokio::task::spawn_blocking(move || {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        write_entries(&mut zip, &collected, &blobs, "", true)?;
        let bytes = zip.finish().map_err(zip_error)?.into_inner();
        Ok((collected, bytes))
    })
    .await
    .map_err(PrivacyError::internal)?
}

/// Records a delivered export: the customer's oldest open access request (or a new one) is
/// completed, and the audit log gets `privacy.exported` naming the request's reference.
pub async fn record(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    performer: &Performer<'_>,
    include_notes: bool,
    export: &Collected,
) -> Result<String, PrivacyError> {
    let txn = crate::db::begin_write(&state.db).await?;
    let request = requests::fulfil(&txn, org, customer_id, Kind::Access, performer.user_id).await?;
    txn.commit().await?;
    state
        .audit
        .record(
            &state.db,
            crate::audit::Entry {
                org: Some(org),
                actor: performer.actor.clone(),
                action: "privacy.exported",
                target: request.reference.clone(),
                client: performer.client,
                details: serde_json::json!({
                    "customer": customer_id,
                    "include_internal_notes": include_notes,
                    "conversations": export.conversations,
                    "messages": export.messages,
                    "attachments": export.attachments,
                }),
            },
        )
        .await?;
    Ok(request.reference)
}

/// The customer export as the page and the API answer it: read, recorded (the register and
/// the audit log) and streamed as the download `lethe-export-<reference>.zip` while the ZIP is
/// written, so a customer with gigabytes of attachments costs no more memory than one.
pub async fn download(
    state: &AppState,
    scope: &TenantScope,
    customer_id: i64,
    include_notes: bool,
) -> Result<HttpResponse, AppError> {
    let collected = collect_in(
        state,
        scope.org(),
        customer_id,
        include_notes,
        scope.session.lang,
    )
    .await?;
    state.access.opened(
        scope,
        crate::audit::access::Kind::Export,
        Some(customer_id),
        None,
    );
    let reference = record(
        state,
        scope.org(),
        customer_id,
        &Performer::of(scope),
        include_notes,
        &collected,
    )
    .await?;
    let blobs = state.blobs.clone();
    let body = crate::web::zip_stream::stream("customer", move |_, sink| {
        let mut zip = zip::ZipWriter::new_stream(sink);
        write_entries(&mut zip, &collected, &blobs, "", true)?;
        zip.finish().map_err(zip_error)?.flush().map_err(io_error)
    });
    Ok(
        crate::web::page::download("application/zip", &format!("lethe-export-{reference}.zip"))
            .streaming(body),
    )
}

fn zip_error(e: zip::result::ZipError) -> PrivacyError {
    PrivacyError::internal(format!("zip: {e}"))
}

fn io_error(e: std::io::Error) -> PrivacyError {
    PrivacyError::internal(format!("zip: {e}"))
}

/// Writes the export's files into `zip` under `prefix` (`""`, or `customers/<id>/` inside the
/// organization export): `export.json`, the `README.txt` when asked, and every attachment,
/// opened from the sealed store one at a time.
pub fn write_entries<W: Write + std::io::Seek>(
    zip: &mut zip::ZipWriter<W>,
    collected: &Collected,
    blobs: &crate::mail::blobs::BlobStore,
    prefix: &str,
    with_readme: bool,
) -> Result<(), PrivacyError> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let file = &collected.file;
    let json = serde_json::to_vec_pretty(file).map_err(PrivacyError::internal)?;
    zip.start_file(format!("{prefix}export.json"), options)
        .map_err(zip_error)?;
    zip.write_all(&json).map_err(io_error)?;
    if with_readme {
        zip.start_file(format!("{prefix}README.txt"), options)
            .map_err(zip_error)?;
        zip.write_all(README.as_bytes()).map_err(io_error)?;
        zip.start_file(format!("{prefix}README.html"), options)
            .map_err(zip_error)?;
        zip.write_all(collected.readme_html.as_bytes())
            .map_err(io_error)?;
    }
    for conversation in &file.conversations {
        for message in &conversation.messages {
            for a in &message.attachments {
                // A chunk at a time from the store into the archive.
                let mut content = blobs.open(&a.blob_id)?;
                zip.start_file(format!("{prefix}{}", a.file), options)
                    .map_err(zip_error)?;
                std::io::copy(&mut content, zip).map_err(io_error)?;
            }
        }
    }
    Ok(())
}

/// The format, in words, for whoever opens the archive.
pub fn readme() -> &'static str {
    README
}

#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default, deserialize_with = "checkbox")]
    include_notes: bool,
    /// Why an open access request is fulfilled although its requester is not verified
    /// (src/privacy/verify.rs).
    #[serde(default)]
    override_reason: Option<String>,
}

/// `POST /customers/{id}/export`: the customer's data as a ZIP download.
pub async fn customer(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    form: CsrfForm<ExportForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let customer_id = path.into_inner();
    let form = form.0;
    super::verify::check_or_override(
        &state,
        &scope,
        customer_id,
        Kind::Access,
        &form.override_reason,
    )
    .await?;
    download(&state, &scope, customer_id, form.include_notes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_cannot_escape_the_archive() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name("Rechnung März.pdf"), "Rechnung_März.pdf");
        assert_eq!(safe_name(""), "attachment");
        assert_eq!(safe_name("..."), "attachment");
    }

    #[test]
    fn address_lists_split_on_commas() {
        assert_eq!(
            address_list("a@x.test, b@y.test"),
            vec!["a@x.test".to_owned(), "b@y.test".to_owned()]
        );
        assert!(address_list("").is_empty());
    }
}
