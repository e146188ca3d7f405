//! Purging an organization whose deletion window has passed: every row of it, the attachment
//! files no other organization shares, its search documents and its audit entries, so that
//! nothing of it is left in the data directory (DESIGN.md invariant 3).
//!
//! The work is resumable: first the members lose access (memberships, sessions and API keys
//! go, and accounts that belonged to no other organization are deleted), then conversations
//! and customers go in batches of [`BATCH`], each in its own transaction (children first, so
//! the search triggers see every message go), and last, in one transaction, everything else,
//! the organization's audit entries (the chain anchors the gaps and records the purge under
//! no organization, naming only its id) and the organization row itself, whose foreign keys
//! cascade to any table not named here. A crash anywhere leaves the scheduled deletion in
//! place and the next run continues. Afterwards the search index drops the organization and
//! purges its segments, and SQLite's WAL is checkpointed.

use std::collections::BTreeSet;

use chrono::Utc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use super::OrgId;
use crate::app::AppState;
use crate::audit::{Actor, Entry, Removal};
use crate::db::entity::{
    api_key, attachment, canned_reply, channel, conversation, conversation_tag, customer,
    customer_email, invitation, membership, message, organization, organization_deletion, outbox,
    privacy_reminder, retention_rule, retention_run, retention_setting, session, tag, user,
};
use crate::privacy::entity::{deletion_receipt, privacy_request};

/// Conversations (or customers) per transaction.
pub const BATCH: u64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("search index: {0}")]
    Index(String),
}

/// What a purge removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub users: u64,
    pub conversations: u64,
    pub messages: u64,
    pub customers: u64,
    pub attachment_files: u64,
    pub audit_entries: u64,
}

/// How many conversations and customers of `org` are on legal hold (a purge waits for them).
pub async fn holds(db: &impl ConnectionTrait, org: OrgId) -> Result<u64, DbErr> {
    let mut total = 0;
    for table in ["conversations", "customers"] {
        let statement = Query::select()
            .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("organization_id")).eq(org.get()))
            .and_where(Expr::col(Alias::new("legal_hold_reason")).is_not_null())
            .to_owned();
        if let Some(row) = db.query_one(&statement).await? {
            total += u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0);
        }
    }
    Ok(total)
}

/// Purges `org` (see the module documentation).
pub async fn purge(state: &AppState, org: OrgId) -> Result<Purged, PurgeError> {
    let mut purged = Purged {
        users: lock_out_members(state, org).await?,
        ..Default::default()
    };
    let mut blobs = BTreeSet::new();
    loop {
        let batch = conversation_batch(state, org, &mut blobs).await?;
        if batch.0 == 0 {
            break;
        }
        purged.conversations += batch.0;
        purged.messages += batch.1;
        purged.attachment_files += remove_unreferenced(state, &mut blobs).await?;
    }
    loop {
        let removed = customer_batch(state, org).await?;
        if removed == 0 {
            break;
        }
        purged.customers += removed;
    }
    purged.audit_entries = finish(state, org, &mut blobs).await?;
    purged.attachment_files += remove_unreferenced(state, &mut blobs).await?;
    clean_index(state, org).await?;
    if let Err(error) = crate::db::checkpoint(&state.db).await {
        tracing::error!(%error, org = org.get(), "purge: WAL checkpoint failed");
    }
    tracing::info!(org = org.get(), ?purged, "organization purged");
    Ok(purged)
}

/// Memberships, invitations, API keys and sessions of `org` go; members who belong to no other
/// organization lose their account. Returns the number of accounts deleted.
async fn lock_out_members(state: &AppState, org: OrgId) -> Result<u64, DbErr> {
    let o = org.get();
    let txn = crate::db::begin_write(&state.db).await?;
    organization_deletion::Entity::update_many()
        .col_expr(
            organization_deletion::Column::PurgeStartedAt,
            Expr::val(Some(Utc::now())),
        )
        .filter(organization_deletion::Column::OrganizationId.eq(o))
        .filter(organization_deletion::Column::PurgeStartedAt.is_null())
        .exec(&txn)
        .await?;
    let members: Vec<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::OrganizationId.eq(o))
        .into_tuple::<i64>()
        .all(&txn)
        .await?;
    membership::Entity::delete_many()
        .filter(membership::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    invitation::Entity::delete_many()
        .filter(invitation::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    api_key::Entity::delete_many()
        .filter(api_key::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    session::Entity::update_many()
        .col_expr(session::Column::OrganizationId, Expr::val(None::<i64>))
        .filter(session::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    let still_members: BTreeSet<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::UserId.is_in(members.iter().copied()))
        .into_tuple::<i64>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let orphans: Vec<i64> = members
        .into_iter()
        .filter(|id| !still_members.contains(id))
        .collect();
    let mut users = 0;
    for chunk in orphans.chunks(500) {
        users += user::Entity::delete_many()
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?
            .rows_affected;
    }
    txn.commit().await?;
    Ok(users)
}

/// Deletes the next batch of conversations with their messages, attachments, outbox rows and
/// tags; collects the attachment files they used. Returns (conversations, messages).
async fn conversation_batch(
    state: &AppState,
    org: OrgId,
    blobs: &mut BTreeSet<String>,
) -> Result<(u64, u64), DbErr> {
    let o = org.get();
    let txn = crate::db::begin_write(&state.db).await?;
    let ids: Vec<i64> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::OrganizationId.eq(o))
        .limit(BATCH)
        .into_tuple::<i64>()
        .all(&txn)
        .await?;
    if ids.is_empty() {
        txn.commit().await?;
        return Ok((0, 0));
    }
    let messages = Query::select()
        .column(message::Column::Id)
        .from(message::Entity)
        .and_where(message::Column::OrganizationId.eq(o))
        .and_where(message::Column::ConversationId.is_in(ids.iter().copied()))
        .to_owned();
    blobs.extend(
        attachment::Entity::find()
            .select_only()
            .column(attachment::Column::BlobId)
            .distinct()
            .filter(attachment::Column::OrganizationId.eq(o))
            .filter(attachment::Column::MessageId.in_subquery(messages.clone()))
            .into_tuple::<String>()
            .all(&txn)
            .await?,
    );
    conversation_tag::Entity::delete_many()
        .filter(conversation_tag::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?;
    outbox::Entity::delete_many()
        .filter(outbox::Column::OrganizationId.eq(o))
        .filter(outbox::Column::MessageId.in_subquery(messages.clone()))
        .exec(&txn)
        .await?;
    attachment::Entity::delete_many()
        .filter(attachment::Column::OrganizationId.eq(o))
        .filter(attachment::Column::MessageId.in_subquery(messages))
        .exec(&txn)
        .await?;
    let removed_messages = message::Entity::delete_many()
        .filter(message::Column::OrganizationId.eq(o))
        .filter(message::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?
        .rows_affected;
    let removed = conversation::Entity::delete_many()
        .filter(conversation::Column::OrganizationId.eq(o))
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok((removed, removed_messages))
}

/// Deletes the next batch of customers (conversations are gone by now) and their addresses.
async fn customer_batch(state: &AppState, org: OrgId) -> Result<u64, DbErr> {
    let o = org.get();
    let txn = crate::db::begin_write(&state.db).await?;
    let ids: Vec<i64> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::OrganizationId.eq(o))
        .limit(BATCH)
        .into_tuple::<i64>()
        .all(&txn)
        .await?;
    if ids.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    customer_email::Entity::delete_many()
        .filter(customer_email::Column::OrganizationId.eq(o))
        .filter(customer_email::Column::CustomerId.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?;
    let removed = customer::Entity::delete_many()
        .filter(customer::Column::OrganizationId.eq(o))
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(removed)
}

/// Everything else, the audit entries and the organization row, in one transaction. Returns
/// how many audit entries went.
async fn finish(state: &AppState, org: OrgId, blobs: &mut BTreeSet<String>) -> Result<u64, DbErr> {
    let o = org.get();
    // The audit lock before the write transaction, as every append takes them.
    let guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    // Anything a batch did not reach (rows added while the purge ran).
    blobs.extend(
        attachment::Entity::find()
            .select_only()
            .column(attachment::Column::BlobId)
            .distinct()
            .filter(attachment::Column::OrganizationId.eq(o))
            .into_tuple::<String>()
            .all(&txn)
            .await?,
    );
    outbox::Entity::delete_many()
        .filter(outbox::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    attachment::Entity::delete_many()
        .filter(attachment::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    message::Entity::delete_many()
        .filter(message::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    let tags_of_org = Query::select()
        .column(tag::Column::Id)
        .from(tag::Entity)
        .and_where(tag::Column::OrganizationId.eq(o))
        .to_owned();
    conversation_tag::Entity::delete_many()
        .filter(conversation_tag::Column::TagId.in_subquery(tags_of_org))
        .exec(&txn)
        .await?;
    conversation::Entity::delete_many()
        .filter(conversation::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    customer_email::Entity::delete_many()
        .filter(customer_email::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    customer::Entity::delete_many()
        .filter(customer::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    tag::Entity::delete_many()
        .filter(tag::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    canned_reply::Entity::delete_many()
        .filter(canned_reply::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    channel::Entity::delete_many()
        .filter(channel::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    privacy_reminder::Entity::delete_many()
        .filter(privacy_reminder::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    deletion_receipt::Entity::delete_many()
        .filter(deletion_receipt::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    privacy_request::Entity::delete_many()
        .filter(privacy_request::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    retention_rule::Entity::delete_many()
        .filter(retention_rule::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    retention_run::Entity::delete_many()
        .filter(retention_run::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    retention_setting::Entity::delete_many()
        .filter(retention_setting::Column::OrganizationId.eq(o))
        .exec(&txn)
        .await?;
    let deletion = organization_deletion::Entity::find_by_id(o)
        .one(&txn)
        .await?;
    let audit_entries = state
        .audit
        .remove_holding(&guard, &txn, Removal::Organization(org), |removed| Entry {
            org: None,
            actor: Actor::System("organization-purge"),
            action: "organization.purged",
            target: format!("organization:{o}"),
            client: None,
            details: serde_json::json!({
                "audit_entries_removed": removed,
                "deletion_requested_at": deletion.as_ref().map(|d| d.requested_at.to_rfc3339()),
                "deletion_requested_by": deletion.as_ref().and_then(|d| d.requested_by),
            }),
        })
        .await?;
    organization::Entity::delete_by_id(o).exec(&txn).await?;
    txn.commit().await?;
    drop(guard);
    Ok(audit_entries)
}

/// Removes the collected attachment files that no attachment row (of any organization: the
/// store is shared) refers to any more. Returns how many were removed.
async fn remove_unreferenced(state: &AppState, blobs: &mut BTreeSet<String>) -> Result<u64, DbErr> {
    let mut removed = 0;
    for blob in std::mem::take(blobs) {
        let referenced = attachment::Entity::find()
            .filter(attachment::Column::BlobId.eq(blob.as_str()))
            .count(&state.db)
            .await?;
        if referenced > 0 {
            continue;
        }
        match state.blobs.delete(&blob) {
            Ok(()) => removed += 1,
            Err(error) => tracing::error!(%error, "purge: an attachment file was not removed"),
        }
    }
    Ok(removed)
}

/// Drains the search queue the deletes filled, drops every document of the organization and
/// rewrites the segments that held them.
async fn clean_index(state: &AppState, org: OrgId) -> Result<(), PurgeError> {
    crate::search::indexer::run_once(state)
        .await
        .map_err(|e| PurgeError::Index(e.to_string()))?;
    // Under the drain lock, like every purge (see `crate::search::indexer::purge`).
    let _drain = state.search.drain_lock.lock().await;
    let index = state.search.clone();
    tokio::task::spawn_blocking(move || {
        index.delete_org(org)?;
        index.purge_deleted()
    })
    .await
    .map_err(|e| PurgeError::Index(e.to_string()))?
    .map_err(|e| PurgeError::Index(e.to_string()))
}
