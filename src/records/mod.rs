//! The one place that deletes customer data: conversations with their messages (internal
//! notes too), attachments, outbox rows and tags; customers with their addresses. Erasure,
//! retention and organization purge all call it, inside their own transactions.
//!
//! Every child is deleted explicitly, children first, so the search triggers see each row go
//! and nothing depends on a foreign key's cascade. Each function answers what it removed and
//! the attachment files ([`Files`]) the removed rows used; the caller commits, then hands them
//! to [`remove_unreferenced_files`], which deletes the files no row refers to any more (the
//! store is content-addressed and shared between organizations).
//!
//! Every statement looks rows up by id or by their parent, with the organization as a check
//! ([`crate::db::org_check`]), so a batch never walks the organization's rows.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::db::entity::{
    attachment, conversation, conversation_tag, customer, customer_email, message, outbox,
};
use crate::db::org_check;
use crate::mail::blobs::BlobStore;
use crate::orgs::OrgId;

/// Ids per statement (well inside both databases' limits on bound values).
const CHUNK: usize = 500;

/// How many rows of each kind a deletion removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub customers: u64,
    pub email_addresses: u64,
    pub conversations: u64,
    /// Every message, internal notes included.
    pub messages: u64,
    /// Of `messages`, how many were internal notes.
    pub internal_notes: u64,
    pub attachments: u64,
    pub outbox: u64,
    pub conversation_tags: u64,
}

impl std::ops::AddAssign for Removed {
    fn add_assign(&mut self, other: Self) {
        self.customers += other.customers;
        self.email_addresses += other.email_addresses;
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.internal_notes += other.internal_notes;
        self.attachments += other.attachments;
        self.outbox += other.outbox;
        self.conversation_tags += other.conversation_tags;
    }
}

/// Attachment files (blob ids) that deleted rows used: to be removed after the commit, when
/// nothing refers to them any more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "the files go only when handed to remove_unreferenced_files after the commit"]
pub struct Files(BTreeSet<String>);

impl Files {
    pub fn extend(&mut self, other: Files) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn from_ids(ids: impl IntoIterator<Item = String>) -> Self {
        Files(ids.into_iter().collect())
    }
}

/// The ids of the messages of these conversations.
fn messages_of(org: OrgId, conversations: &[i64]) -> SelectStatement {
    Query::select()
        .column(message::Column::Id)
        .from(message::Entity)
        .and_where(org_check("messages", org))
        .and_where(message::Column::ConversationId.is_in(conversations.iter().copied()))
        .to_owned()
}

/// The attachment files of these messages.
async fn files_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    messages: SelectStatement,
) -> Result<Files, DbErr> {
    let ids: Vec<String> = attachment::Entity::find()
        .select_only()
        .column(attachment::Column::BlobId)
        .distinct()
        .filter(org_check("attachments", org))
        .filter(attachment::Column::MessageId.in_subquery(messages))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Files::from_ids(ids))
}

/// Deletes conversations of `org` with everything in them: tags, outbox rows, attachments,
/// messages and notes. Ids of other organizations are left alone.
pub async fn delete_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<(Removed, Files), DbErr> {
    let mut removed = Removed::default();
    let mut files = Files::default();
    for chunk in ids.chunks(CHUNK) {
        let (chunk_removed, chunk_files) = delete_conversation_chunk(db, org, chunk).await?;
        removed += chunk_removed;
        files.extend(chunk_files);
    }
    Ok((removed, files))
}

async fn delete_conversation_chunk(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<(Removed, Files), DbErr> {
    // Only this organization's conversations: the children are found through them.
    let ids: Vec<i64> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .filter(org_check("conversations", org))
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok((Removed::default(), Files::default()));
    }
    let files = files_of(db, org, messages_of(org, &ids)).await?;
    let internal_notes = message::Entity::find()
        .filter(org_check("messages", org))
        .filter(message::Column::ConversationId.is_in(ids.iter().copied()))
        .filter(message::Column::Direction.eq("note"))
        .count(db)
        .await?;
    let conversation_tags = conversation_tag::Entity::delete_many()
        .filter(conversation_tag::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?
        .rows_affected;
    let outbox = outbox::Entity::delete_many()
        .filter(org_check("outbox", org))
        .filter(outbox::Column::MessageId.in_subquery(messages_of(org, &ids)))
        .exec(db)
        .await?
        .rows_affected;
    let attachments = attachment::Entity::delete_many()
        .filter(org_check("attachments", org))
        .filter(attachment::Column::MessageId.in_subquery(messages_of(org, &ids)))
        .exec(db)
        .await?
        .rows_affected;
    let messages = message::Entity::delete_many()
        .filter(org_check("messages", org))
        .filter(message::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?
        .rows_affected;
    let conversations = conversation::Entity::delete_many()
        .filter(org_check("conversations", org))
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?
        .rows_affected;
    let removed = Removed {
        conversations,
        messages,
        internal_notes,
        attachments,
        outbox,
        conversation_tags,
        ..Removed::default()
    };
    Ok((removed, files))
}

/// Deletes single messages of `org` (internal notes a rule found due) with their attachments
/// and outbox rows; their conversations stay.
pub async fn delete_messages(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<(Removed, Files), DbErr> {
    let mut removed = Removed::default();
    let mut files = Files::default();
    for chunk in ids.chunks(CHUNK) {
        let listed = || {
            Query::select()
                .column(message::Column::Id)
                .from(message::Entity)
                .and_where(org_check("messages", org))
                .and_where(message::Column::Id.is_in(chunk.iter().copied()))
                .to_owned()
        };
        files.extend(files_of(db, org, listed()).await?);
        removed.internal_notes += message::Entity::find()
            .filter(org_check("messages", org))
            .filter(message::Column::Id.is_in(chunk.iter().copied()))
            .filter(message::Column::Direction.eq("note"))
            .count(db)
            .await?;
        removed.outbox += outbox::Entity::delete_many()
            .filter(org_check("outbox", org))
            .filter(outbox::Column::MessageId.in_subquery(listed()))
            .exec(db)
            .await?
            .rows_affected;
        removed.attachments += attachment::Entity::delete_many()
            .filter(org_check("attachments", org))
            .filter(attachment::Column::MessageId.in_subquery(listed()))
            .exec(db)
            .await?
            .rows_affected;
        removed.messages += message::Entity::delete_many()
            .filter(org_check("messages", org))
            .filter(message::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok((removed, files))
}

/// Deletes attachments of `org` by id (the message stays).
pub async fn delete_attachments(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<(Removed, Files), DbErr> {
    let mut removed = Removed::default();
    let mut files = Files::default();
    for chunk in ids.chunks(CHUNK) {
        let blob_ids: Vec<String> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::BlobId)
            .filter(org_check("attachments", org))
            .filter(attachment::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        files.extend(Files::from_ids(blob_ids));
        removed.attachments += attachment::Entity::delete_many()
            .filter(org_check("attachments", org))
            .filter(attachment::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok((removed, files))
}

/// Deletes the attachments of these conversations' messages (anonymization keeps the
/// messages and removes what they carried).
pub async fn delete_attachments_of_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversations: &[i64],
) -> Result<(Removed, Files), DbErr> {
    let mut removed = Removed::default();
    let mut files = Files::default();
    for chunk in conversations.chunks(CHUNK) {
        files.extend(files_of(db, org, messages_of(org, chunk)).await?);
        removed.attachments += attachment::Entity::delete_many()
            .filter(org_check("attachments", org))
            .filter(attachment::Column::MessageId.in_subquery(messages_of(org, chunk)))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok((removed, files))
}

/// Deletes customers of `org` with their addresses and every conversation they have.
pub async fn delete_customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<(Removed, Files), DbErr> {
    let mut removed = Removed::default();
    let mut files = Files::default();
    for chunk in ids.chunks(CHUNK) {
        let conversations: Vec<i64> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Id)
            .filter(org_check("conversations", org))
            .filter(conversation::Column::CustomerId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let (in_conversations, conversation_files) =
            delete_conversations(db, org, &conversations).await?;
        removed += in_conversations;
        files.extend(conversation_files);
        removed.email_addresses += customer_email::Entity::delete_many()
            .filter(org_check("customer_emails", org))
            .filter(customer_email::Column::CustomerId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
        removed.customers += customer::Entity::delete_many()
            .filter(org_check("customers", org))
            .filter(customer::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok((removed, files))
}

/// After the commit: removes the files that no attachment row (of any organization) refers
/// to, checking each just before (an equal file may have arrived since). Returns how many
/// files went; a file that cannot be removed is logged, counted in `failed`, and left to the
/// hourly orphan sweep.
pub async fn remove_unreferenced_files(
    db: &impl ConnectionTrait,
    store: &BlobStore,
    files: Files,
) -> Result<FilesRemoved, DbErr> {
    let mut out = FilesRemoved::default();
    let all: Vec<String> = files.0.into_iter().collect();
    for chunk in all.chunks(CHUNK) {
        let still_used: BTreeSet<String> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::BlobId)
            .distinct()
            .filter(attachment::Column::BlobId.is_in(chunk.iter().map(String::as_str)))
            .into_tuple::<String>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for blob in chunk.iter().filter(|id| !still_used.contains(*id)) {
            match store.delete(blob) {
                Ok(()) => out.removed += 1,
                Err(error) => {
                    tracing::error!(%error, "an attachment file was not removed");
                    out.failed += 1;
                }
            }
        }
    }
    Ok(out)
}

/// What [`remove_unreferenced_files`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilesRemoved {
    pub removed: u64,
    pub failed: u64,
}

/// Of these files, how many no attachment row outside `org`'s listed conversations refers to:
/// what an erasure of those conversations would remove (the preview).
pub async fn files_only_in(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversations: &[i64],
) -> Result<u64, DbErr> {
    let mut files = Files::default();
    for chunk in conversations.chunks(CHUNK) {
        files.extend(files_of(db, org, messages_of(org, chunk)).await?);
    }
    let mut only_here = 0;
    for blob in &files.0 {
        let total = attachment::Entity::find()
            .filter(attachment::Column::BlobId.eq(blob.as_str()))
            .count(db)
            .await?;
        let mut here = 0;
        for chunk in conversations.chunks(CHUNK) {
            here += attachment::Entity::find()
                .filter(org_check("attachments", org))
                .filter(attachment::Column::BlobId.eq(blob.as_str()))
                .filter(attachment::Column::MessageId.in_subquery(messages_of(org, chunk)))
                .count(db)
                .await?;
        }
        if total == here {
            only_here += 1;
        }
    }
    Ok(only_here)
}
