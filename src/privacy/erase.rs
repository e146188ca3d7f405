//! Erasure (the right to be forgotten): a customer, their addresses, conversations, messages
//! (internal notes too), outbox rows, conversation tags, and the attachment files nothing else
//! refers to — rows in one transaction, files after the commit — then the search index catches
//! up and purges its segments, and SQLite's WAL is checkpointed, so the raw bytes of the data
//! directory hold no trace of the person (DESIGN.md invariant 3). A deletion receipt records the
//! counts; it and the audit entry name only the request's random reference.
//!
//! Legal hold blocks erasure: a customer on hold, or with any conversation on hold, is not
//! erased ([`holds`]; [`erase`] answers [`PrivacyError::OnHold`] and changes nothing).

use std::collections::BTreeSet;

use chrono::Utc;
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::PrivacyError;
use super::entity::deletion_receipt;
use super::requests::{self, Kind, Status};
use crate::app::AppState;
use crate::audit::{self, Actor};
use crate::db::entity::{
    attachment, conversation, conversation_tag, customer, customer_email, message, outbox,
};
use crate::orgs::OrgId;
use crate::web::client::ClientInfo;

/// How many records of each category an erasure removes (or would remove).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub customers: u64,
    pub email_addresses: u64,
    pub conversations: u64,
    /// Every message, internal notes included.
    pub messages: u64,
    /// Of `messages`, how many were internal notes.
    pub internal_notes: u64,
    pub attachments: u64,
    /// Attachment files removed from the store (a file shared with a remaining attachment
    /// stays).
    pub attachment_files: u64,
    pub outbox: u64,
    pub conversation_tags: u64,
}

impl Counts {
    /// The categories in display order: (translation key, count).
    pub fn rows(&self) -> [(&'static str, u64); 9] {
        [
            ("privacy.count.customers", self.customers),
            ("privacy.count.email_addresses", self.email_addresses),
            ("privacy.count.conversations", self.conversations),
            ("privacy.count.messages", self.messages),
            ("privacy.count.internal_notes", self.internal_notes),
            ("privacy.count.attachments", self.attachments),
            ("privacy.count.attachment_files", self.attachment_files),
            ("privacy.count.outbox", self.outbox),
            ("privacy.count.conversation_tags", self.conversation_tags),
        ]
    }
}

/// Who erases: a signed-in user (with their client) or the command line.
pub struct Performer<'a> {
    pub user_id: Option<i64>,
    /// The audit log's actor: the user's email address, or `system:cli`.
    pub actor: Actor,
    pub client: Option<&'a ClientInfo>,
}

impl Performer<'_> {
    fn label(&self) -> String {
        match &self.actor {
            Actor::User { email, .. } => email.clone(),
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::System(name) => format!("system:{name}"),
        }
    }
}

/// What an erasure did.
#[derive(Debug)]
pub struct Erasure {
    pub counts: Counts,
    pub receipt_id: i64,
    pub reference: String,
    /// Steps after the commit that failed (the rows are gone; these are caught up later or
    /// need the operator): `attachment_files`, `search_index`, `checkpoint`.
    pub incomplete: Vec<&'static str>,
}

fn conversations_of(org: OrgId, customer_id: i64) -> SelectStatement {
    Query::select()
        .column(conversation::Column::Id)
        .from(conversation::Entity)
        .and_where(conversation::Column::OrganizationId.eq(org.get()))
        .and_where(conversation::Column::CustomerId.eq(customer_id))
        .to_owned()
}

fn messages_of(org: OrgId, customer_id: i64) -> SelectStatement {
    Query::select()
        .column(message::Column::Id)
        .from(message::Entity)
        .and_where(message::Column::OrganizationId.eq(org.get()))
        .and_where(message::Column::ConversationId.in_subquery(conversations_of(org, customer_id)))
        .to_owned()
}

/// A legal hold that blocks an erasure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    Customer { reason: String },
    Conversation { id: i64, reason: String },
}

impl Hold {
    pub fn reason(&self) -> &str {
        match self {
            Hold::Customer { reason } | Hold::Conversation { reason, .. } => reason,
        }
    }

    /// The conversation on hold, or None for the customer record itself.
    pub fn conversation(&self) -> Option<i64> {
        match self {
            Hold::Customer { .. } => None,
            Hold::Conversation { id, .. } => Some(*id),
        }
    }
}

/// The holds in words, for the command line (admins' own reasons; nothing of the customer).
pub fn describe_holds(holds: &[Hold]) -> String {
    let parts: Vec<String> = holds
        .iter()
        .map(|hold| match hold {
            Hold::Customer { reason } => format!("the customer is on legal hold ({reason})"),
            Hold::Conversation { id, reason } => {
                format!("conversation {id} is on legal hold ({reason})")
            }
        })
        .collect();
    format!("erasure refused: {}", parts.join("; "))
}

/// The legal holds on the customer and their conversations; erasure needs none.
pub async fn holds(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<Hold>, sea_orm::DbErr> {
    let mut out = Vec::new();
    if let Some(reason) = crate::retention::hold::customer_hold(db, org, customer_id).await? {
        out.push(Hold::Customer { reason });
    }
    let held: Vec<(i64, Option<String>)> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .column_as(
            sea_orm::sea_query::Expr::cust("conversations.legal_hold_reason"),
            "legal_hold_reason",
        )
        .filter(conversation::Column::OrganizationId.eq(org.get()))
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .filter(sea_orm::sea_query::Expr::cust(
            "conversations.legal_hold_reason IS NOT NULL",
        ))
        .into_tuple()
        .all(db)
        .await?;
    out.extend(held.into_iter().map(|(id, reason)| Hold::Conversation {
        id,
        reason: reason.unwrap_or_default(),
    }));
    Ok(out)
}

/// The customer, if it belongs to `org`.
pub async fn find_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Option<customer::Model>, sea_orm::DbErr> {
    customer::Entity::find_by_id(customer_id)
        .filter(customer::Column::OrganizationId.eq(org.get()))
        .one(db)
        .await
}

/// The customer holding this address in `org` (addresses are stored lowercased).
pub async fn customer_by_email(
    db: &impl ConnectionTrait,
    org: OrgId,
    email: &crate::mail::EmailAddress,
) -> Result<Option<i64>, sea_orm::DbErr> {
    customer_email::Entity::find()
        .select_only()
        .column(customer_email::Column::CustomerId)
        .filter(customer_email::Column::OrganizationId.eq(org.get()))
        .filter(customer_email::Column::Email.eq(email.as_str()))
        .into_tuple::<i64>()
        .one(db)
        .await
}

/// The attachment files of the customer's messages (blob ids).
async fn blob_ids(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<BTreeSet<String>, sea_orm::DbErr> {
    Ok(attachment::Entity::find()
        .select_only()
        .column(attachment::Column::BlobId)
        .distinct()
        .filter(attachment::Column::OrganizationId.eq(org.get()))
        .filter(attachment::Column::MessageId.in_subquery(messages_of(org, customer_id)))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Of these blob ids, the ones no attachment row (of any organization: the store is shared
/// and content-addressed) refers to.
async fn unreferenced(
    db: &impl ConnectionTrait,
    blobs: &BTreeSet<String>,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let mut out = Vec::new();
    let all: Vec<&String> = blobs.iter().collect();
    for chunk in all.chunks(500) {
        let still: BTreeSet<String> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::BlobId)
            .distinct()
            .filter(attachment::Column::BlobId.is_in(chunk.iter().map(|s| s.as_str())))
            .into_tuple::<String>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        out.extend(
            chunk
                .iter()
                .filter(|id| !still.contains(**id))
                .map(|id| (*id).clone()),
        );
    }
    Ok(out)
}

/// What erasing this customer would remove (the confirmation page and `--yes`-less CLI).
/// `attachment_files` counts the files no other customer's attachment shares.
pub async fn preview(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Counts, sea_orm::DbErr> {
    let o = org.get();
    let customers = customer::Entity::find()
        .filter(customer::Column::OrganizationId.eq(o))
        .filter(customer::Column::Id.eq(customer_id))
        .count(db)
        .await?;
    let email_addresses = customer_email::Entity::find()
        .filter(customer_email::Column::OrganizationId.eq(o))
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .count(db)
        .await?;
    let conversations = conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(o))
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .count(db)
        .await?;
    let messages = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(o))
        .filter(message::Column::ConversationId.in_subquery(conversations_of(org, customer_id)))
        .count(db)
        .await?;
    let internal_notes = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(o))
        .filter(message::Column::Direction.eq("note"))
        .filter(message::Column::ConversationId.in_subquery(conversations_of(org, customer_id)))
        .count(db)
        .await?;
    let attachments = attachment::Entity::find()
        .filter(attachment::Column::OrganizationId.eq(o))
        .filter(attachment::Column::MessageId.in_subquery(messages_of(org, customer_id)))
        .count(db)
        .await?;
    let outbox = outbox::Entity::find()
        .filter(outbox::Column::OrganizationId.eq(o))
        .filter(outbox::Column::MessageId.in_subquery(messages_of(org, customer_id)))
        .count(db)
        .await?;
    let conversation_tags = conversation_tag::Entity::find()
        .filter(
            conversation_tag::Column::ConversationId
                .in_subquery(conversations_of(org, customer_id)),
        )
        .count(db)
        .await?;
    // Files shared with attachments outside this customer stay.
    let blobs = blob_ids(db, org, customer_id).await?;
    let mut attachment_files = 0;
    for blob in &blobs {
        let elsewhere = attachment::Entity::find()
            .filter(attachment::Column::BlobId.eq(blob.as_str()))
            .filter(
                sea_orm::Condition::any()
                    .add(attachment::Column::OrganizationId.ne(o))
                    .add(
                        attachment::Column::MessageId
                            .not_in_subquery(messages_of(org, customer_id)),
                    ),
            )
            .count(db)
            .await?;
        if elsewhere == 0 {
            attachment_files += 1;
        }
    }
    Ok(Counts {
        customers,
        email_addresses,
        conversations,
        messages,
        internal_notes,
        attachments,
        attachment_files,
        outbox,
        conversation_tags,
    })
}

/// Deletes the rows in one transaction; returns the counts and the blob ids to remove.
async fn delete_rows(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<(Counts, BTreeSet<String>), sea_orm::DbErr> {
    let o = org.get();
    let internal_notes = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(o))
        .filter(message::Column::Direction.eq("note"))
        .filter(message::Column::ConversationId.in_subquery(conversations_of(org, customer_id)))
        .count(db)
        .await?;
    let blobs = blob_ids(db, org, customer_id).await?;
    // Children first: every delete is explicit, so the search triggers see each row go.
    let conversation_tags = conversation_tag::Entity::delete_many()
        .filter(
            conversation_tag::Column::ConversationId
                .in_subquery(conversations_of(org, customer_id)),
        )
        .exec(db)
        .await?
        .rows_affected;
    let outbox = outbox::Entity::delete_many()
        .filter(outbox::Column::OrganizationId.eq(o))
        .filter(outbox::Column::MessageId.in_subquery(messages_of(org, customer_id)))
        .exec(db)
        .await?
        .rows_affected;
    let attachments = attachment::Entity::delete_many()
        .filter(attachment::Column::OrganizationId.eq(o))
        .filter(attachment::Column::MessageId.in_subquery(messages_of(org, customer_id)))
        .exec(db)
        .await?
        .rows_affected;
    let messages = message::Entity::delete_many()
        .filter(message::Column::OrganizationId.eq(o))
        .filter(message::Column::ConversationId.in_subquery(conversations_of(org, customer_id)))
        .exec(db)
        .await?
        .rows_affected;
    let conversations = conversation::Entity::delete_many()
        .filter(conversation::Column::OrganizationId.eq(o))
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?
        .rows_affected;
    let email_addresses = customer_email::Entity::delete_many()
        .filter(customer_email::Column::OrganizationId.eq(o))
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?
        .rows_affected;
    let customers = customer::Entity::delete_many()
        .filter(customer::Column::OrganizationId.eq(o))
        .filter(customer::Column::Id.eq(customer_id))
        .exec(db)
        .await?
        .rows_affected;
    let counts = Counts {
        customers,
        email_addresses,
        conversations,
        messages,
        internal_notes,
        attachments,
        attachment_files: 0,
        outbox,
        conversation_tags,
    };
    Ok((counts, blobs))
}

/// Erases a customer of `org` and everything about them; see the module documentation.
pub async fn erase(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
    performer: Performer<'_>,
) -> Result<Erasure, PrivacyError> {
    // The audit lock before the transaction (the lock order of `AuditLog::exclusive`): the
    // entry commits with the erasure.
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    if find_customer(&txn, org, customer_id).await?.is_none() {
        return Err(PrivacyError::NotFound);
    }
    let on_hold = holds(&txn, org, customer_id).await?;
    if !on_hold.is_empty() {
        // Dropping the transaction rolls it back: nothing was changed.
        return Err(PrivacyError::OnHold(on_hold));
    }
    let request = requests::open_or_create(&txn, org, customer_id, Kind::Erasure).await?;
    requests::forget_customer(&txn, org, customer_id).await?;
    let (mut counts, blobs) = delete_rows(&txn, org, customer_id).await?;
    let orphans = unreferenced(&txn, &blobs).await?;
    counts.attachment_files = orphans.len() as u64;
    requests::close(&txn, org, request.id, Status::Completed, performer.user_id).await?;
    let receipt = deletion_receipt::ActiveModel {
        organization_id: Set(org.get()),
        request_id: Set(request.id),
        created_at: Set(Utc::now()),
        performed_by: Set(performer.label()),
        counts: Set(serde_json::to_string(&counts).map_err(PrivacyError::internal)?),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    state
        .audit
        .record_holding(
            &audit_guard,
            &txn,
            audit::Entry {
                org: Some(org),
                actor: performer.actor.clone(),
                action: "privacy.erased",
                target: request.reference.clone(),
                client: performer.client,
                details: serde_json::json!({ "receipt": receipt.id, "counts": counts }),
            },
        )
        .await?;
    txn.commit().await?;
    drop(audit_guard);

    let mut incomplete = Vec::new();
    if let Err(error) = remove_files(state, &orphans).await {
        tracing::error!(%error, receipt = receipt.id, "erasure: attachment files not removed");
        incomplete.push("attachment_files");
    }
    match after_erasure(state).await {
        Ok(()) => {}
        // The running server holds the index (this is the command line): its indexer drains
        // the durable queue the triggers filled, and purges, within a second.
        Err(error) if index_held_elsewhere(&error) => {
            tracing::info!(
                receipt = receipt.id,
                "erasure: the server's indexer purges the index"
            );
        }
        Err(error) => {
            tracing::error!(%error, receipt = receipt.id, "erasure: search index not purged yet");
            incomplete.push("search_index");
        }
    }
    if let Err(error) = crate::db::checkpoint(&state.db).await {
        tracing::error!(%error, receipt = receipt.id, "erasure: WAL checkpoint failed");
        incomplete.push("checkpoint");
    }
    tracing::info!(receipt = receipt.id, "customer erased");
    Ok(Erasure {
        counts,
        receipt_id: receipt.id,
        reference: request.reference,
        incomplete,
    })
}

/// Removes attachment files, checking again just before each that no row refers to it (an
/// equal file may have arrived since the commit).
async fn remove_files(state: &AppState, orphans: &[String]) -> Result<(), PrivacyError> {
    for blob in orphans {
        let referenced = attachment::Entity::find()
            .filter(attachment::Column::BlobId.eq(blob.as_str()))
            .count(&state.db)
            .await?;
        if referenced == 0 {
            state.blobs.delete(blob)?;
        }
    }
    Ok(())
}

/// After rows were deleted: drains the search queue (the database triggers queued every
/// deleted message and conversation) and purges the index, so the deleted text leaves the
/// index files.
pub async fn after_erasure(state: &AppState) -> Result<(), PrivacyError> {
    crate::search::indexer::run_once(state).await?;
    crate::search::indexer::purge(state).await?;
    Ok(())
}

/// True when another process (the running server) holds the index writer's lock.
fn index_held_elsewhere(error: &PrivacyError) -> bool {
    use crate::search::SearchError;
    use crate::search::indexer::IndexerError;
    let search = match error {
        PrivacyError::Search(e) | PrivacyError::Indexer(IndexerError::Search(e)) => e,
        _ => return false,
    };
    matches!(
        search,
        SearchError::Tantivy(tantivy::TantivyError::LockFailure(..))
    )
}
