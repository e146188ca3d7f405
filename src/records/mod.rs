//! The one place that deletes customer data: conversations with their messages (internal
//! notes too), attachments, outbox rows, reply drafts, tags, webhook deliveries, access
//! entries, read marks, notifications and the aliases of conversations merged into them;
//! customers with their addresses. Erasure,
//! retention and organization purge all call it, inside their own transactions, and the
//! erasure preview counts with the same selections ([`count_customers`]).
//!
//! Every child is deleted explicitly, children first, so the search triggers see each row go
//! and nothing depends on a foreign key's cascade. Each function answers what it removed and
//! the attachment files ([`Files`]) the removed rows used; the caller commits, then hands them
//! to [`remove_unreferenced_files`], which deletes the files no row refers to any more (the
//! store is content-addressed and shared between organizations).
//!
//! Every deletion is appended to the erasure journal ([`Journal`], `crate::backup::journal`)
//! inside the caller's transaction, so a restored backup deletes it again.
//!
//! Every statement looks rows up by id or by their parent, with the organization as a check
//! ([`crate::db::org_check`]), so a batch never walks the organization's rows.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::backup::journal::{Journal, Kind};
use crate::db::InOrg;
use crate::db::entity::{
    attachment, conversation, conversation_alias, conversation_read, conversation_tag, customer,
    customer_email, message, outbox,
};
use crate::mail::blobs::BlobStore;
use crate::orgs::OrgId;

/// Appends an entry to the erasure journal; a journal that cannot be written fails the
/// deletion (its transaction rolls back), since an unjournaled deletion could come back with a
/// restored backup.
async fn journal(
    journal: &Journal,
    org: OrgId,
    kind: Kind,
    ids: &[i64],
    conversations: &[i64],
) -> Result<(), DbErr> {
    journal
        .record(org, kind, ids, conversations)
        .await
        .map_err(|error| DbErr::Custom(error.to_string()))
}

/// Ids per statement (well inside both databases' limits on bound values).
const CHUNK: usize = 500;

/// How many rows of each kind a deletion removed (or, counting, would remove).
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
}

/// What a step does with the rows it selects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Count,
    Delete,
}

/// Counts or deletes the rows of `E` that `condition` selects.
async fn rows<E>(db: &impl ConnectionTrait, mode: Mode, condition: Condition) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    match mode {
        Mode::Count => E::find().filter(condition).count(db).await,
        Mode::Delete => Ok(E::delete_many()
            .filter(condition)
            .exec(db)
            .await?
            .rows_affected),
    }
}

/// Deletes the rows of `E` in `org` whose `column` is one of `ids`, [`CHUNK`] ids per
/// statement; the number deleted. The one way the side tables that hang off a conversation or
/// a customer (access entries, webhook deliveries, drafts, read marks, notifications) are
/// emptied.
pub async fn delete_rows_in<E>(
    db: &impl ConnectionTrait,
    org: OrgId,
    column: E::Column,
    ids: &[i64],
) -> Result<u64, DbErr>
where
    E: InOrg,
    E::Model: Sync,
{
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK) {
        removed += rows::<E>(
            db,
            Mode::Delete,
            Condition::all()
                .add(E::org_check(org))
                .add(column.is_in(chunk.iter().copied())),
        )
        .await?;
    }
    Ok(removed)
}

/// Runs `each` over `ids` in chunks of [`CHUNK`] and adds up what it did. (A closure that
/// returns a future for one fixed lifetime, not an `AsyncFn`: the futures must stay `Send`.)
async fn by_chunks<'c, Fut>(
    ids: &'c [i64],
    each: impl Fn(&'c [i64]) -> Fut,
) -> Result<(Removed, Files), DbErr>
where
    Fut: std::future::Future<Output = Result<(Removed, Files), DbErr>>,
{
    let mut removed = Removed::default();
    let mut files = Files::default();
    for chunk in ids.chunks(CHUNK) {
        let (chunk_removed, chunk_files) = each(chunk).await?;
        removed += chunk_removed;
        files.extend(chunk_files);
    }
    Ok((removed, files))
}

/// The ids of the messages of these conversations.
fn messages_of(org: OrgId, conversations: &[i64]) -> SelectStatement {
    Query::select()
        .column(message::Column::Id)
        .from(message::Entity)
        .and_where(message::Entity::org_check(org))
        .and_where(message::Column::ConversationId.is_in(conversations.iter().copied()))
        .to_owned()
}

/// These messages, by id.
fn listed_messages(org: OrgId, ids: &[i64]) -> SelectStatement {
    Query::select()
        .column(message::Column::Id)
        .from(message::Entity)
        .and_where(message::Entity::org_check(org))
        .and_where(message::Column::Id.is_in(ids.iter().copied()))
        .to_owned()
}

/// The attachment files of these messages.
async fn files_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    messages: SelectStatement,
) -> Result<Files, DbErr> {
    let ids: Vec<String> = attachment::Entity::lookup_in(org)
        .select_only()
        .column(attachment::Column::BlobId)
        .distinct()
        .filter(attachment::Column::MessageId.in_subquery(messages))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Files(ids.into_iter().collect()))
}

/// What hangs off messages (outbox rows, attachments), then the messages themselves; the
/// messages are those `messages()` selects, and `message_rows` selects the same rows.
async fn messages(
    db: &impl ConnectionTrait,
    mode: Mode,
    org: OrgId,
    messages: impl Fn() -> SelectStatement,
    message_rows: Condition,
) -> Result<(Removed, Files), DbErr> {
    let files = match mode {
        Mode::Delete => files_of(db, org, messages()).await?,
        Mode::Count => Files::default(),
    };
    let internal_notes = rows::<message::Entity>(
        db,
        Mode::Count,
        message_rows
            .clone()
            .add(message::Column::Direction.eq("note")),
    )
    .await?;
    let outbox = rows::<outbox::Entity>(
        db,
        mode,
        Condition::all()
            .add(outbox::Entity::org_check(org))
            .add(outbox::Column::MessageId.in_subquery(messages())),
    )
    .await?;
    let attachments = rows::<attachment::Entity>(
        db,
        mode,
        Condition::all()
            .add(attachment::Entity::org_check(org))
            .add(attachment::Column::MessageId.in_subquery(messages())),
    )
    .await?;
    let messages = rows::<message::Entity>(db, mode, message_rows).await?;
    let removed = Removed {
        messages,
        internal_notes,
        attachments,
        outbox,
        ..Removed::default()
    };
    Ok((removed, files))
}

/// Conversations of `org` (ids of other organizations are left alone) with everything in
/// them: tags, outbox rows, attachments, messages and notes.
async fn conversations(
    db: &impl ConnectionTrait,
    mode: Mode,
    org: OrgId,
    ids: &[i64],
) -> Result<(Removed, Files), DbErr> {
    let ids: Vec<i64> = conversation::Entity::lookup_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok((Removed::default(), Files::default()));
    }
    if mode == Mode::Delete {
        // Their report facts as they last stood: the numbers outlive the conversations.
        crate::reports::facts::refresh(db, org, &ids).await?;
    }
    let in_conversations = || conversation_tag::Column::ConversationId.is_in(ids.iter().copied());
    let conversation_tags =
        rows::<conversation_tag::Entity>(db, mode, Condition::all().add(in_conversations()))
            .await?;
    let (mut removed, files) = messages(
        db,
        mode,
        org,
        || messages_of(org, &ids),
        Condition::all()
            .add(message::Entity::org_check(org))
            .add(message::Column::ConversationId.is_in(ids.iter().copied())),
    )
    .await?;
    removed.conversation_tags = conversation_tags;
    if mode == Mode::Delete {
        // Webhook deliveries about these conversations (queued payloads, log entries), and
        // the access entries about them.
        crate::webhooks::forget_conversations(db, org, &ids).await?;
        crate::audit::access::forget_conversations(db, org, &ids).await?;
        delete_rows_in::<conversation_read::Entity>(
            db,
            org,
            conversation_read::Column::ConversationId,
            &ids,
        )
        .await?;
        // The agents' unsent reply drafts in them (src/inbox/drafts.rs).
        crate::inbox::drafts::forget_conversations(db, org, &ids).await?;
        // What was suggested for them (src/assist/suggest/).
        crate::assist::suggest::store::forget_conversations(db, org, &ids).await?;
        // The team's notifications about them (src/inbox/notifications).
        crate::inbox::notifications::store::forget_conversations(db, org, &ids).await?;
        // The aliases of conversations merged into them (src/inbox/merge.rs).
        delete_rows_in::<conversation_alias::Entity>(
            db,
            org,
            conversation_alias::Column::ConversationId,
            &ids,
        )
        .await?;
    }
    removed.conversations = rows::<conversation::Entity>(
        db,
        mode,
        Condition::all()
            .add(conversation::Entity::org_check(org))
            .add(conversation::Column::Id.is_in(ids.iter().copied())),
    )
    .await?;
    Ok((removed, files))
}

/// The email addresses of these customers.
fn addresses_of(org: OrgId, customers: &[i64]) -> Condition {
    Condition::all()
        .add(customer_email::Entity::org_check(org))
        .add(customer_email::Column::CustomerId.is_in(customers.iter().copied()))
}

/// Customers of `org` with every conversation they have, then their addresses and records.
async fn customers(
    db: &impl ConnectionTrait,
    mode: Mode,
    org: OrgId,
    ids: &[i64],
) -> Result<(Removed, Files), DbErr> {
    let their_conversations: Vec<i64> = conversation::Entity::lookup_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::CustomerId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let (mut removed, files) = by_chunks(&their_conversations, |chunk| async move {
        conversations(db, mode, org, chunk).await
    })
    .await?;
    if mode == Mode::Delete {
        // Webhook deliveries about these customers (queued payloads, log entries), and the
        // access entries about them.
        crate::webhooks::forget_customers(db, org, ids).await?;
        crate::audit::access::forget_customers(db, org, ids).await?;
        // Saved views whose text query names one of them, while the addresses still say which.
        crate::inbox::views::forget_customers(db, org, ids).await?;
    }
    removed.email_addresses =
        rows::<customer_email::Entity>(db, mode, addresses_of(org, ids)).await?;
    removed.customers = rows::<customer::Entity>(
        db,
        mode,
        Condition::all()
            .add(customer::Entity::org_check(org))
            .add(customer::Column::Id.is_in(ids.iter().copied())),
    )
    .await?;
    Ok((removed, files))
}

/// Deletes unsent reply drafts of `org` by id (the `unsent_drafts` retention rule), journaled
/// so a restored backup does not bring them back; the number deleted.
pub async fn delete_drafts(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
    log: &Journal,
) -> Result<u64, DbErr> {
    journal(log, org, Kind::Drafts, ids, &[]).await?;
    use crate::db::entity::draft;
    delete_rows_in::<draft::Entity>(db, org, draft::Column::Id, ids).await
}

/// Deletes suggestions of `org` by id (the `assist_suggestions` retention rule), journaled;
/// the number deleted.
pub async fn delete_suggestions(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
    log: &Journal,
) -> Result<u64, DbErr> {
    journal(log, org, Kind::Suggestions, ids, &[]).await?;
    use crate::db::entity::assist_suggestion;
    delete_rows_in::<assist_suggestion::Entity>(db, org, assist_suggestion::Column::Id, ids).await
}

/// Empties the text of suggestions of `org` by id (the `assist_suggestions` rule with
/// *anonymize*), journaled; the number changed.
pub async fn anonymize_suggestions(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
    log: &Journal,
) -> Result<u64, DbErr> {
    journal(log, org, Kind::SuggestionsAnonymized, ids, &[]).await?;
    crate::assist::suggest::store::anonymize(db, org, ids).await
}

/// Deletes conversations of `org` with everything in them: tags, outbox rows, attachments,
/// messages and notes. Ids of other organizations are left alone.
pub async fn delete_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
    log: &Journal,
) -> Result<(Removed, Files), DbErr> {
    journal(log, org, Kind::Conversations, ids, &[]).await?;
    by_chunks(ids, |chunk| async move {
        conversations(db, Mode::Delete, org, chunk).await
    })
    .await
}

/// Deletes single messages of `org` (internal notes a rule found due) with their attachments
/// and outbox rows; their conversations stay.
pub async fn delete_messages(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
    log: &Journal,
) -> Result<(Removed, Files), DbErr> {
    journal(log, org, Kind::Messages, ids, &[]).await?;
    by_chunks(ids, |chunk| async move {
        messages(
            db,
            Mode::Delete,
            org,
            || listed_messages(org, chunk),
            Condition::all()
                .add(message::Entity::org_check(org))
                .add(message::Column::Id.is_in(chunk.iter().copied())),
        )
        .await
    })
    .await
}

/// Deletes attachments of `org` by id (the message stays).
pub async fn delete_attachments(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
    log: &Journal,
) -> Result<(Removed, Files), DbErr> {
    journal(log, org, Kind::Attachments, ids, &[]).await?;
    by_chunks(ids, |chunk| async move {
        let listed = || {
            Condition::all()
                .add(attachment::Entity::org_check(org))
                .add(attachment::Column::Id.is_in(chunk.iter().copied()))
        };
        let blob_ids: Vec<String> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::BlobId)
            .filter(listed())
            .into_tuple()
            .all(db)
            .await?;
        let attachments = rows::<attachment::Entity>(db, Mode::Delete, listed()).await?;
        let removed = Removed {
            attachments,
            ..Removed::default()
        };
        Ok((removed, Files(blob_ids.into_iter().collect())))
    })
    .await
}

/// Deletes the attachments of these conversations' messages (anonymization keeps the
/// messages and removes what they carried).
pub async fn delete_attachments_of_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversations: &[i64],
    log: &Journal,
) -> Result<(Removed, Files), DbErr> {
    journal(
        log,
        org,
        Kind::AttachmentsOfConversations,
        conversations,
        &[],
    )
    .await?;
    by_chunks(conversations, |chunk| async move {
        let files = files_of(db, org, messages_of(org, chunk)).await?;
        let attachments = rows::<attachment::Entity>(
            db,
            Mode::Delete,
            Condition::all()
                .add(attachment::Entity::org_check(org))
                .add(attachment::Column::MessageId.in_subquery(messages_of(org, chunk))),
        )
        .await?;
        let removed = Removed {
            attachments,
            ..Removed::default()
        };
        Ok((removed, files))
    })
    .await
}

/// Deletes customers of `org` with their addresses and every conversation they have.
pub async fn delete_customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
    log: &Journal,
) -> Result<(Removed, Files), DbErr> {
    let mut their_conversations = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let found: Vec<i64> = conversation::Entity::lookup_in(org)
            .select_only()
            .column(conversation::Column::Id)
            .filter(conversation::Column::CustomerId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        their_conversations.extend(found);
    }
    journal(log, org, Kind::Customers, ids, &their_conversations).await?;
    by_chunks(ids, |chunk| async move {
        customers(db, Mode::Delete, org, chunk).await
    })
    .await
}

/// Deletes the email addresses of customers of `org` (anonymization keeps the record);
/// returns how many went.
pub async fn delete_email_addresses(
    db: &impl ConnectionTrait,
    org: OrgId,
    customers: &[i64],
    log: &Journal,
) -> Result<u64, DbErr> {
    journal(log, org, Kind::EmailAddresses, customers, &[]).await?;
    let mut removed = 0;
    for chunk in customers.chunks(CHUNK) {
        removed +=
            rows::<customer_email::Entity>(db, Mode::Delete, addresses_of(org, chunk)).await?;
    }
    Ok(removed)
}

/// What [`delete_customers`] would remove, counted with the same selections (the erasure
/// preview).
pub async fn count_customers(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<Removed, DbErr> {
    let (removed, _) = by_chunks(ids, |chunk| async move {
        customers(db, Mode::Count, org, chunk).await
    })
    .await?;
    Ok(removed)
}

/// After the commit: removes the files that no attachment row (of any organization) refers
/// to, checking each just before (an equal file may have arrived since). A file that cannot be
/// removed is logged, counted in `failed`, and left to the hourly orphan sweep.
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
        let unused: Vec<String> = chunk
            .iter()
            .filter(|id| !still_used.contains(*id))
            .cloned()
            .collect();
        // Off the async threads: a file, or an object in the attachment bucket.
        let store = store.clone();
        let results = tokio::task::spawn_blocking(move || {
            unused
                .iter()
                .map(|blob| store.delete(blob))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|error| DbErr::Custom(format!("removing attachment files stopped: {error}")))?;
        for result in results {
            match result {
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

/// How many attachment files only these conversations of `org` use, among `org`'s own
/// attachments: the files the organization no longer holds once they are deleted. Other
/// organizations are not looked at, so the number cannot tell one tenant whether another
/// holds the same file; the store itself keeps a file while any organization refers to it
/// ([`remove_unreferenced_files`]).
pub async fn files_only_in(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversations: &[i64],
) -> Result<u64, DbErr> {
    let mut here: BTreeSet<i64> = BTreeSet::new();
    let mut files: BTreeSet<String> = BTreeSet::new();
    for chunk in conversations.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = attachment::Entity::lookup_in(org)
            .select_only()
            .column(attachment::Column::Id)
            .column(attachment::Column::BlobId)
            .filter(attachment::Column::MessageId.in_subquery(messages_of(org, chunk)))
            .into_tuple()
            .all(db)
            .await?;
        for (id, blob) in rows {
            here.insert(id);
            files.insert(blob);
        }
    }
    let listed: Vec<&String> = files.iter().collect();
    let mut shared: BTreeSet<String> = BTreeSet::new();
    for chunk in listed.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = attachment::Entity::lookup_in(org)
            .select_only()
            .column(attachment::Column::Id)
            .column(attachment::Column::BlobId)
            .filter(attachment::Column::BlobId.is_in(chunk.iter().map(|b| b.as_str())))
            .into_tuple()
            .all(db)
            .await?;
        shared.extend(
            rows.into_iter()
                .filter(|(id, _)| !here.contains(id))
                .map(|(_, blob)| blob),
        );
    }
    Ok(files.difference(&shared).count() as u64)
}
