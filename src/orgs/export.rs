//! The organization export (owners): one ZIP, streamed as it is written, holding
//!
//! - `organization.json` (`schema` = [`SCHEMA`], `schema_version` = [`SCHEMA_VERSION`]): the
//!   organization, its members, channels and settings — with no secret (no password, token or
//!   key, sealed or not) — tags, canned replies, the privacy request register, and the list of
//!   customers;
//! - `customers/<id>/export.json` and `customers/<id>/attachments/…`: for every customer,
//!   exactly what the customer export (`crate::privacy::export`, schema
//!   `lethe.customer-export`) holds, internal notes included; `customers/README.txt`
//!   describes that format;
//! - `README.txt`: this layout in words.
//!
//! ```text
//! { schema, schema_version, generated_at,
//!   organization: { id, name, created_at, deletion_scheduled_for },
//!   members: [ { email, display_name, role, joined_at } ],
//!   channels: [ { id, name, from_name, from_address, created_at,
//!                 imap: { host, port, tls, user, folder, move_to, poll_seconds } | null,
//!                 smtp: { host, port, tls, user } | null } ],
//!   settings: { retention: { schedule, rules: [ { category, after_days, action } ] },
//!               purposes: { defaults, list: [ { purpose, legal_bases: [string] } ] } },
//!   tags: [string], canned_replies: [ { title, body } ],
//!   knowledge: { help_centre, categories, articles } (crate::assist::knowledge::export),
//!   privacy_requests: [ { reference, kind, status, received_at, due_at, completed_at,
//!                         customer_id } ],
//!   customers: [ { id, display_name, file } ] }
//! ```

use std::io::Write;
use std::sync::Arc;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::OrgId;
use crate::db::InOrg;
use crate::db::entity::privacy_request;
use crate::db::entity::{
    canned_reply, channel, customer, membership, organization, organization_deletion,
    retention_rule, retention_setting, tag, user,
};
use crate::state::AppState;
use crate::web::zip_stream::ChannelWriter;

pub const SCHEMA: &str = "lethe.organization-export";
pub const SCHEMA_VERSION: u32 = 1;
/// Customers read per query.
const CUSTOMER_PAGE: u64 = 500;

const README: &str = "Lethe organization export\n\
=========================\n\n\
organization.json: the organization (id, name, created_at, deletion_scheduled_for), its\n\
members (email, display_name, role, joined_at), its channels (mailbox and SMTP settings\n\
without any password or token), its settings (retention schedule and rules; the purposes of\n\
processing with their legal bases), tags, canned\n\
replies, the knowledge base (help centre settings, categories, articles in every language),\n\
the register of privacy requests, and the list of customers.\n\n\
customers/<id>/export.json: everything stored about one customer, in the customer export\n\
format (schema \"lethe.customer-export\", described in customers/README.txt), internal notes\n\
included; customers/<id>/attachments/: that customer's attachment files.\n\n\
Dates are RFC 3339 in UTC.\n";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("write: {0}")]
    Io(#[from] std::io::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no such organization")]
    NotFound,
}

#[derive(Serialize)]
struct OrganizationFile {
    schema: &'static str,
    schema_version: u32,
    generated_at: DateTime<Utc>,
    organization: OrganizationRecord,
    members: Vec<MemberRecord>,
    channels: Vec<ChannelRecord>,
    settings: Settings,
    tags: Vec<String>,
    canned_replies: Vec<CannedRecord>,
    knowledge: crate::assist::knowledge::export::KnowledgeExport,
    privacy_requests: Vec<RequestRecord>,
    customers: Vec<CustomerEntry>,
}

#[derive(Serialize)]
struct OrganizationRecord {
    id: i64,
    name: String,
    created_at: DateTime<Utc>,
    deletion_scheduled_for: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct MemberRecord {
    email: String,
    display_name: String,
    role: String,
    joined_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct ImapRecord {
    host: String,
    port: i32,
    tls: String,
    user: Option<String>,
    folder: String,
    move_to: Option<String>,
    poll_seconds: i32,
}

#[derive(Serialize)]
struct SmtpRecord {
    host: String,
    port: i32,
    tls: String,
    user: Option<String>,
}

/// A channel without its secrets: the inbound token (hash and sealed), the IMAP and SMTP
/// passwords (sealed) and the last error (a server's answer) are left out.
#[derive(Serialize)]
struct ChannelRecord {
    id: i64,
    name: String,
    from_name: String,
    from_address: String,
    created_at: DateTime<Utc>,
    imap: Option<ImapRecord>,
    smtp: Option<SmtpRecord>,
}

impl From<channel::Model> for ChannelRecord {
    fn from(c: channel::Model) -> Self {
        ChannelRecord {
            imap: c.imap_host.map(|host| ImapRecord {
                host,
                port: c.imap_port,
                tls: c.imap_tls,
                user: c.imap_user,
                folder: c.imap_folder,
                move_to: c.imap_move_to,
                poll_seconds: c.poll_seconds,
            }),
            smtp: c.smtp_host.map(|host| SmtpRecord {
                host,
                port: c.smtp_port,
                tls: c.smtp_tls,
                user: c.smtp_user,
            }),
            id: c.id,
            name: c.name,
            from_name: c.from_name,
            from_address: c.from_address,
            created_at: c.created_at,
        }
    }
}

#[derive(Serialize)]
struct Settings {
    retention: RetentionSettings,
    purposes: PurposeSettings,
}

/// The purposes of processing (src/privacy/purposes.rs), in English for Lethe's own texts.
#[derive(Serialize)]
struct PurposeSettings {
    /// True: nothing saved, Lethe's defaults apply.
    defaults: bool,
    list: Vec<PurposeRecord>,
}

#[derive(Serialize)]
struct PurposeRecord {
    purpose: String,
    legal_bases: Vec<&'static str>,
}

#[derive(Serialize)]
struct RetentionSettings {
    schedule: Option<String>,
    rules: Vec<RuleRecord>,
}

#[derive(Serialize)]
struct RuleRecord {
    category: String,
    after_days: i32,
    action: String,
}

#[derive(Serialize)]
struct CannedRecord {
    title: String,
    body: String,
}

#[derive(Serialize)]
struct RequestRecord {
    reference: String,
    kind: String,
    status: String,
    received_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    customer_id: Option<i64>,
}

#[derive(Serialize)]
struct CustomerEntry {
    id: i64,
    display_name: String,
    file: String,
}

async fn organization_file(state: &AppState, org: OrgId) -> Result<OrganizationFile, ExportError> {
    let db = &state.db;
    let o = org.get();
    let found = organization::Entity::find_by_id(o)
        .one(db)
        .await?
        .ok_or(ExportError::NotFound)?;
    let deletion = organization_deletion::Entity::find_by_id(org)
        .one(db)
        .await?;
    let memberships = membership::Entity::find_in(org)
        .order_by_asc(membership::Column::Id)
        .all(db)
        .await?;
    let users: std::collections::BTreeMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(memberships.iter().map(|m| m.user_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let members = memberships
        .into_iter()
        .filter_map(|m| {
            let u = users.get(&m.user_id)?;
            Some(MemberRecord {
                email: u.email.clone(),
                display_name: u.display_name.clone(),
                role: m.role,
                joined_at: m.created_at,
            })
        })
        .collect();
    let channels = channel::Entity::find_in(org)
        .order_by_asc(channel::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(ChannelRecord::from)
        .collect();
    let schedule = retention_setting::Entity::find_by_id(org)
        .one(db)
        .await?
        .map(|s| s.schedule);
    let rules = retention_rule::Entity::find_in(org)
        .order_by_asc(retention_rule::Column::Category)
        .all(db)
        .await?
        .into_iter()
        .map(|r| RuleRecord {
            category: r.category,
            after_days: r.after_days,
            action: r.action,
        })
        .collect();
    let (purposes, defaults) = crate::privacy::purposes::load(db, org).await?;
    let purposes = PurposeSettings {
        defaults,
        list: purposes
            .iter()
            .map(|p| PurposeRecord {
                purpose: p
                    .text()
                    .in_language(crate::web::i18n::Tr::new(crate::web::i18n::Lang::En)),
                legal_bases: p.bases().iter().map(|b| b.name()).collect(),
            })
            .collect(),
    };
    let tags = tag::Entity::find_in(org)
        .select_only()
        .column(tag::Column::Name)
        .order_by_asc(tag::Column::Name)
        .into_tuple::<String>()
        .all(db)
        .await?;
    let canned_replies = canned_reply::Entity::find_in(org)
        .order_by_asc(canned_reply::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|c| CannedRecord {
            title: c.title,
            body: c.body,
        })
        .collect();
    let privacy_requests = privacy_request::Entity::find_in(org)
        .order_by_asc(privacy_request::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| RequestRecord {
            reference: r.reference,
            kind: r.kind,
            status: r.status,
            received_at: r.received_at,
            due_at: r.due_at,
            completed_at: r.completed_at,
            customer_id: r.customer_id,
        })
        .collect();
    let mut customers = Vec::new();
    let mut after = 0i64;
    loop {
        let page = customer::Entity::find_in(org)
            .filter(customer::Column::Id.gt(after))
            .order_by_asc(customer::Column::Id)
            .limit(CUSTOMER_PAGE)
            .all(db)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        customers.extend(page.into_iter().map(|c| CustomerEntry {
            file: format!("customers/{}/export.json", c.id),
            id: c.id,
            display_name: c.display_name,
        }));
    }
    Ok(OrganizationFile {
        schema: SCHEMA,
        schema_version: SCHEMA_VERSION,
        generated_at: Utc::now(),
        organization: OrganizationRecord {
            id: found.id,
            name: found.name,
            created_at: found.created_at,
            deletion_scheduled_for: deletion.map(|d| d.purge_after),
        },
        members,
        channels,
        settings: Settings {
            retention: RetentionSettings { schedule, rules },
            purposes,
        },
        tags,
        canned_replies,
        knowledge: crate::assist::knowledge::export::of(db, org).await?,
        privacy_requests,
        customers,
    })
}

/// Writes the whole export into `sink` (on a blocking thread; database work goes through
/// `handle`). Returns how many customers it holds.
fn write_export(
    handle: &tokio::runtime::Handle,
    state: &AppState,
    org: OrgId,
    sink: ChannelWriter,
) -> Result<usize, ExportError> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new_stream(sink);
    let file = handle.block_on(organization_file(state, org))?;
    zip.start_file("README.txt", options)?;
    zip.write_all(README.as_bytes())?;
    zip.start_file("organization.json", options)?;
    zip.write_all(&serde_json::to_vec_pretty(&file)?)?;
    zip.start_file("customers/README.txt", options)?;
    zip.write_all(crate::privacy::export::readme().as_bytes())?;
    for entry in &file.customers {
        let collected =
            handle.block_on(crate::privacy::export::collect(state, org, entry.id, true));
        let collected = match collected {
            Ok(collected) => collected,
            // Erased while the export ran: it is no longer the organization's data.
            Err(crate::privacy::PrivacyError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        };
        let prefix = format!("customers/{}/", entry.id);
        crate::privacy::export::write_entries(&mut zip, &collected, &state.blobs, &prefix, false)?;
    }
    let mut sink = zip.finish()?;
    sink.flush()?;
    Ok(file.customers.len())
}

/// Starts the export of `org` and returns the stream of its bytes.
pub fn stream(
    state: Arc<AppState>,
    org: OrgId,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    crate::web::zip_stream::stream("organization", move |handle, sink| {
        let customers = write_export(handle, &state, org, sink)?;
        tracing::info!(org = org.get(), customers, "organization exported");
        Ok::<(), ExportError>(())
    })
}
