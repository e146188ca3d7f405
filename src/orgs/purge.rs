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
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::OrgId;
use crate::audit::{Actor, Entry, Removal};
use crate::db::InOrg;
use crate::db::entity::{api_idempotency, deletion_receipt, privacy_request};
use crate::db::entity::{
    api_key, canned_reply, channel, conversation, conversation_tag, customer, invitation,
    membership, organization, organization_deletion, privacy_reminder, retention_rule,
    retention_run, retention_setting, session, tag, user,
};
use crate::records;
use crate::state::AppState;

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

impl Purged {
    fn add(&mut self, removed: records::Removed) {
        self.conversations += removed.conversations;
        self.messages += removed.messages;
        self.customers += removed.customers;
    }
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

/// Purges `org` (see the module documentation), then mails the owners (as the purge began)
/// the deletion confirmation when system mail is on.
pub async fn purge(state: &AppState, org: OrgId) -> Result<Purged, PurgeError> {
    let mut purged = Purged {
        users: lock_out_members(state, org).await?,
        ..Default::default()
    };
    // Read now: the scheduled deletion and the name go with the organization row.
    let confirmation = Confirmation::read(state, org).await?;
    for table in [Table::Conversations, Table::Customers] {
        loop {
            let (removed, files) = batch(state, org, table).await?;
            if removed == records::Removed::default() {
                break;
            }
            purged.add(removed);
            purged.attachment_files += remove_files(state, files).await?;
        }
    }
    let (audit_entries, removed, files) = finish(state, org).await?;
    purged.audit_entries = audit_entries;
    purged.add(removed);
    purged.attachment_files += remove_files(state, files).await?;
    crate::search::indexer::forget_organization(state, org)
        .await
        .map_err(|e| PurgeError::Index(e.to_string()))?;
    if let Err(error) = crate::db::checkpoint(&state.db).await {
        tracing::error!(%error, org = org.get(), "purge: WAL checkpoint failed");
    }
    tracing::info!(org = org.get(), ?purged, "organization purged");
    if let Some(confirmation) = confirmation {
        confirmation.send(state).await;
    }
    Ok(purged)
}

/// The deletion confirmation mailed when a purge is done.
struct Confirmation {
    name: String,
    requested_at: chrono::DateTime<Utc>,
    recipients: Vec<(String, String)>,
}

impl Confirmation {
    async fn read(state: &AppState, org: OrgId) -> Result<Option<Self>, DbErr> {
        let Some(deletion) = organization_deletion::Entity::find_by_id(org)
            .one(&state.db)
            .await?
        else {
            return Ok(None);
        };
        let name = organization::Entity::find_by_id(org.get())
            .one(&state.db)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let recipients: Vec<(String, String)> = deletion
            .confirm_to
            .as_deref()
            .and_then(|stored| serde_json::from_str(stored).ok())
            .unwrap_or_default();
        Ok(Some(Self {
            name,
            requested_at: deletion.requested_at,
            recipients,
        }))
    }

    async fn send(self, state: &AppState) {
        let recipients: Vec<(crate::mail::EmailAddress, crate::web::i18n::Lang)> = self
            .recipients
            .iter()
            .filter_map(|(address, lang)| {
                let address = crate::mail::EmailAddress::parse(address).ok()?;
                let lang =
                    crate::web::i18n::Lang::from_code(lang).unwrap_or(crate::web::i18n::Lang::En);
                Some((address, lang))
            })
            .collect();
        let now = Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
        let requested = self.requested_at.format("%Y-%m-%d").to_string();
        let args = [
            ("organization", self.name.as_str()),
            ("deleted_at", now.as_str()),
            ("requested_at", requested.as_str()),
        ];
        super::admin_notice::mail_each(
            state,
            &recipients,
            "orgs.deleted_mail.subject",
            "orgs.deleted_mail.body",
            &args,
            "deletion confirmation",
        )
        .await;
    }
}

/// Memberships, invitations, API keys and sessions of `org` go; members who belong to no other
/// organization lose their account. Returns the number of accounts deleted.
async fn lock_out_members(state: &AppState, org: OrgId) -> Result<u64, DbErr> {
    let _o = org.get();
    let txn = crate::db::begin_write(&state.db).await?;
    organization_deletion::Entity::update_in(org)
        .col_expr(
            organization_deletion::Column::PurgeStartedAt,
            Expr::val(Some(Utc::now())),
        )
        .filter(organization_deletion::Column::PurgeStartedAt.is_null())
        .exec(&txn)
        .await?;
    let members: Vec<i64> = membership::Entity::find_in(org)
        .select_only()
        .column(membership::Column::UserId)
        .into_tuple::<i64>()
        .all(&txn)
        .await?;
    // Who gets the deletion confirmation: the owners as the purge begins (kept on the
    // scheduled deletion, which goes with the organization row at the end).
    let owners =
        super::admin_notice::recipients(&txn, org, super::admin_notice::Audience::Owners).await?;
    if !owners.is_empty() {
        let recipients: Vec<(String, &'static str)> = owners
            .into_iter()
            .map(|(address, lang)| (address.as_str().to_owned(), lang.code()))
            .collect();
        organization_deletion::Entity::update_in(org)
            .col_expr(
                organization_deletion::Column::ConfirmTo,
                Expr::val(Some(serde_json::json!(recipients).to_string())),
            )
            .filter(organization_deletion::Column::ConfirmTo.is_null())
            .exec(&txn)
            .await?;
    }
    membership::Entity::delete_in(org).exec(&txn).await?;
    invitation::Entity::delete_in(org).exec(&txn).await?;
    api_idempotency::Entity::delete_in(org).exec(&txn).await?;
    api_key::Entity::delete_in(org).exec(&txn).await?;
    session::Entity::update_in(org)
        .col_expr(session::Column::OrganizationId, Expr::val(None::<i64>))
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
        // The audit log's rows name them as `user:<id>`: their addresses go with them.
        crate::db::entity::audit_actor::Entity::delete_many()
            .filter(crate::db::entity::audit_actor::Column::UserId.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
        users += user::Entity::delete_many()
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?
            .rows_affected;
    }
    txn.commit().await?;
    Ok(users)
}

/// What a batch deletes: conversations first, then the customers left without them.
#[derive(Clone, Copy)]
enum Table {
    Conversations,
    Customers,
}

/// Deletes the next [`BATCH`] conversations (or customers) of `org` in one transaction, with
/// everything they hold.
async fn batch(
    state: &AppState,
    org: OrgId,
    table: Table,
) -> Result<(records::Removed, records::Files), DbErr> {
    let txn = crate::db::begin_write(&state.db).await?;
    let ids: Vec<i64> = match table {
        Table::Conversations => {
            conversation::Entity::find_in(org)
                .select_only()
                .column(conversation::Column::Id)
                .limit(BATCH)
                .into_tuple()
                .all(&txn)
                .await?
        }
        Table::Customers => {
            customer::Entity::find_in(org)
                .select_only()
                .column(customer::Column::Id)
                .limit(BATCH)
                .into_tuple()
                .all(&txn)
                .await?
        }
    };
    let deleted = match table {
        Table::Conversations => {
            records::delete_conversations(&txn, org, &ids, &state.journal).await?
        }
        Table::Customers => records::delete_customers(&txn, org, &ids, &state.journal).await?,
    };
    txn.commit().await?;
    Ok(deleted)
}

/// Everything else, the audit entries and the organization row, in one transaction. Returns
/// how many audit entries went.
async fn finish(
    state: &AppState,
    org: OrgId,
) -> Result<(u64, records::Removed, records::Files), DbErr> {
    let o = org.get();
    // The audit lock before the write transaction, as every append takes them.
    let guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    // Anything a batch did not reach (rows added while the purge ran).
    let customers: Vec<i64> = customer::Entity::find_in(org)
        .select_only()
        .column(customer::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    let (removed, files) = records::delete_customers(&txn, org, &customers, &state.journal).await?;
    let tags_of_org = Query::select()
        .column(tag::Column::Id)
        .from(tag::Entity)
        .and_where(tag::Column::OrganizationId.eq(org))
        .to_owned();
    conversation_tag::Entity::delete_many()
        .filter(conversation_tag::Column::TagId.in_subquery(tags_of_org))
        .exec(&txn)
        .await?;
    tag::Entity::delete_in(org).exec(&txn).await?;
    canned_reply::Entity::delete_in(org).exec(&txn).await?;
    channel::Entity::delete_in(org).exec(&txn).await?;
    privacy_reminder::Entity::delete_in(org).exec(&txn).await?;
    deletion_receipt::Entity::delete_in(org).exec(&txn).await?;
    privacy_request::Entity::delete_in(org).exec(&txn).await?;
    retention_rule::Entity::delete_in(org).exec(&txn).await?;
    retention_run::Entity::delete_in(org).exec(&txn).await?;
    retention_setting::Entity::delete_in(org).exec(&txn).await?;
    // The report figures (src/reports/facts.rs): the organization's own, they go with it.
    crate::db::entity::report_fact::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::processing_purpose::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::webhook_delivery::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::webhook_endpoint::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::webhook_inbound::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::order_connector::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::assist_model::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::assist_suggestion::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::assist_suggestion_set::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    crate::db::entity::assist_setting::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    // The knowledge base: articles, their variants, categories, the help centre's settings.
    crate::assist::knowledge::model::purge(&txn, org).await?;
    let deletion = organization_deletion::Entity::find_by_id(org)
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
    state.articles.forget(org);
    state.intents.set(org, None);
    state.orders.forget_org(org);
    Ok((audit_entries, removed, files))
}

/// Removes the batch's files that nothing refers to any more; returns how many went.
async fn remove_files(state: &AppState, files: records::Files) -> Result<u64, DbErr> {
    let removed = records::remove_unreferenced_files(&state.db, &state.blobs, files).await?;
    Ok(removed.removed)
}
