//! What a retention run does to each category: conversations (delete or anonymize),
//! attachments, internal notes, customers without conversations and the audit log. Each
//! takes the ids that are due once and works through them in batches of [`BATCH`], re-checking
//! every batch, one transaction each; deletions go through [`crate::records`].

use std::collections::BTreeSet;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::RetentionError;
use super::run::{BATCH, CategoryCounts, Ctx, crash_point};
use super::select::{
    Lookup, count_distinct_customers, count_left_behind, delete_left_behind, due_conversations,
    due_ids, free_conversation, held_conversation, in_held_conversation, messages_of, org_term,
};
use super::{Action, RetentionRule};
use crate::audit::{Actor, Entry};
use crate::db::InOrg;
use crate::db::entity::{attachment, audit_event, conversation, customer, message};
use crate::records;
use crate::state::AppState;

// ---- conversations ----------------------------------------------------------------------

pub(super) async fn conversations(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    let db = &ctx.state.db;
    let due = due_conversations(ctx, rule, Lookup::Scan);
    counts.skipped_legal_hold = due
        .clone()
        .filter(held_conversation(ctx.org))
        .count(db)
        .await?;
    let free = due.filter(free_conversation(ctx.org));
    if ctx.dry_run {
        counts.conversations = free.clone().count(db).await?;
        counts.customers = count_distinct_customers(db, free.clone()).await?;
        let messages = messages_of(free.clone());
        counts.messages = message::Entity::find()
            .filter(message::Column::Id.in_subquery(messages.clone()))
            .count(db)
            .await?;
        counts.attachments = attachment::Entity::find()
            .filter(attachment::Column::MessageId.in_subquery(messages))
            .count(db)
            .await?;
        let due: Vec<(i64, i64)> = free
            .select_only()
            .column(conversation::Column::Id)
            .column(conversation::Column::CustomerId)
            .into_tuple()
            .all(db)
            .await?;
        counts.customer_records = count_left_behind(db, ctx.org, &due).await?;
        return Ok(());
    }
    let mut customers_seen = BTreeSet::new();
    let due = due_ids(db, free.clone(), conversation::Column::Id).await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)?
        let batch = due_conversations(ctx, rule, Lookup::Ids)
            .filter(free_conversation(ctx.org))
            .filter(conversation::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(conversation::Column::Id)
            .all(db)
            .await?;
        if batch.is_empty() {
            continue;
        }
        let txn = crate::db::begin_write(db).await?;
        let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
        counts.conversations += ids.len() as u64;
        customers_seen.extend(batch.iter().map(|c| c.customer_id));
        let files = match rule.action() {
            Action::Delete => {
                let (removed, mut files) =
                    records::delete_conversations(&txn, ctx.org, &ids, &ctx.state.journal).await?;
                counts.messages += removed.messages;
                counts.attachments += removed.attachments;
                // The customer records whose last conversation this was go with it.
                let owners: Vec<i64> = batch
                    .iter()
                    .map(|c| c.customer_id)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (gone, more_files) =
                    delete_left_behind(&txn, ctx.org, &owners, &ctx.state.journal).await?;
                counts.customer_records += gone.customers;
                files.extend(more_files);
                files
            }
            Action::Anonymize => {
                let (rewritten, removed, files) = super::anonymize::conversations(
                    &txn,
                    ctx.org,
                    ctx.now,
                    &batch,
                    &ctx.state.journal,
                )
                .await?;
                counts.messages += rewritten;
                counts.attachments += removed.attachments;
                counts.customer_records += removed.customers;
                files
            }
        };
        txn.commit().await?;
        crash_point();
        remove_files(ctx.state, files).await;
    }
    counts.customers = customers_seen.len() as u64;
    Ok(())
}

// ---- attachments ------------------------------------------------------------------------

pub(super) async fn attachments(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    let db = &ctx.state.db;
    let old_messages = |held: bool, among: Option<&[i64]>| {
        let lookup = if among.is_some() {
            Lookup::Ids
        } else {
            Lookup::Scan
        };
        let mut query = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(org_term::<message::Entity>(ctx.org, lookup))
            .filter(message::Column::CreatedAt.lt(rule.cutoff(ctx.now)));
        if let Some(ids) = among {
            query = query.filter(message::Column::Id.is_in(ids.iter().copied()));
        }
        query = query.filter(in_held_conversation(ctx.org, held));
        query.into_query()
    };
    let scoped = attachment::Entity::find_in(ctx.org);
    counts.skipped_legal_hold = scoped
        .clone()
        .filter(attachment::Column::MessageId.in_subquery(old_messages(true, None)))
        .count(db)
        .await?;
    let free = scoped
        .clone()
        .filter(attachment::Column::MessageId.in_subquery(old_messages(false, None)));
    if ctx.dry_run {
        counts.attachments = free.count(db).await?;
        return Ok(());
    }
    let due: Vec<(i64, i64)> = free
        .select_only()
        .column(attachment::Column::Id)
        .column(attachment::Column::MessageId)
        .order_by_asc(attachment::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)? The message check is limited to the chunk's
        // messages, so it does not walk the whole message table per batch.
        let (ids, message_ids): (Vec<i64>, Vec<i64>) = chunk.iter().copied().unzip();
        let batch: Vec<(i64, String)> = attachment::Entity::find()
            .filter(org_term::<attachment::Entity>(ctx.org, Lookup::Ids))
            .select_only()
            .column(attachment::Column::Id)
            .column(attachment::Column::BlobId)
            .filter(attachment::Column::Id.is_in(ids))
            .filter(
                attachment::Column::MessageId
                    .in_subquery(old_messages(false, Some(message_ids.as_slice()))),
            )
            .into_tuple()
            .all(db)
            .await?;
        if batch.is_empty() {
            continue;
        }
        let ids: Vec<i64> = batch.into_iter().map(|(id, _)| id).collect();
        let (removed, files) =
            records::delete_attachments(db, ctx.org, &ids, &ctx.state.journal).await?;
        counts.attachments += removed.attachments;
        crash_point();
        remove_files(ctx.state, files).await;
    }
    Ok(())
}

/// Removes the batch's files that no attachment row (of any organization: files are shared
/// by content) refers to any more. A failure is logged and the run goes on; the hourly sweep
/// removes what is left.
pub(super) async fn remove_files(state: &AppState, files: records::Files) {
    if let Err(error) = records::remove_unreferenced_files(&state.db, &state.blobs, files).await {
        tracing::error!(%error, "cannot check the attachment files' use");
    }
}

// ---- internal notes ---------------------------------------------------------------------

/// What the notes rule reads of a note.
#[derive(sea_orm::FromQueryResult)]
pub(super) struct Note {
    id: i64,
}

pub(super) async fn notes(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    let db = &ctx.state.db;
    let due_notes = |lookup: Lookup| {
        let mut due = message::Entity::find()
            .filter(org_term::<message::Entity>(ctx.org, lookup))
            .filter(message::Column::Direction.eq("note"))
            .filter(message::Column::CreatedAt.lt(rule.cutoff(ctx.now)));
        if rule.action() == Action::Anonymize {
            due = due.filter(Expr::cust("messages.anonymized_at IS NULL"));
        }
        due
    };
    let due = due_notes(Lookup::Scan);
    counts.skipped_legal_hold = due
        .clone()
        .filter(in_held_conversation(ctx.org, true))
        .count(db)
        .await?;
    let free = due.filter(in_held_conversation(ctx.org, false));
    if ctx.dry_run {
        counts.notes = free.count(db).await?;
        return Ok(());
    }
    let due = due_ids(db, free.clone(), message::Column::Id).await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)?
        let batch: Vec<Note> = due_notes(Lookup::Ids)
            .filter(in_held_conversation(ctx.org, false))
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(message::Column::Id)
            .into_model()
            .all(db)
            .await?;
        if batch.is_empty() {
            continue;
        }
        counts.notes += batch.len() as u64;
        let txn = crate::db::begin_write(db).await?;
        let files = match rule.action() {
            Action::Delete => {
                let ids: Vec<i64> = batch.iter().map(|m| m.id).collect();
                // Notes carry no attachments; were one to, its file would go with it.
                records::delete_messages(&txn, ctx.org, &ids, &ctx.state.journal)
                    .await?
                    .1
            }
            Action::Anonymize => {
                let ids: Vec<i64> = batch.iter().map(|m| m.id).collect();
                super::anonymize::notes(&txn, ctx.org, ctx.now, &ids, &ctx.state.journal).await?;
                records::Files::default()
            }
        };
        txn.commit().await?;
        crash_point();
        remove_files(ctx.state, files).await;
    }
    Ok(())
}

// ---- customers without conversations ----------------------------------------------------

pub(super) async fn customers(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    let db = &ctx.state.db;
    let due_customers = |lookup: Lookup| {
        let mut due = customer::Entity::find()
            .filter(org_term::<customer::Entity>(ctx.org, lookup))
            .filter(customer::Column::CreatedAt.lt(rule.cutoff(ctx.now)))
            .filter(Expr::cust(
                "NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = customers.id)",
            ));
        if rule.action() == Action::Anonymize {
            due = due.filter(Expr::cust("customers.anonymized_at IS NULL"));
        }
        due
    };
    let due = due_customers(Lookup::Scan);
    counts.skipped_legal_hold = due
        .clone()
        .filter(Expr::cust(
            "(customers.legal_hold_reason IS NOT NULL OR customers.restricted_at IS NOT NULL)",
        ))
        .count(db)
        .await?;
    let not_held =
        || Expr::cust("customers.legal_hold_reason IS NULL AND customers.restricted_at IS NULL");
    let free = due.filter(not_held());
    if ctx.dry_run {
        counts.customers = free.count(db).await?;
        return Ok(());
    }
    let due = due_ids(db, free.clone(), customer::Column::Id).await?;
    for chunk in due.chunks(BATCH) {
        // Still due (and not put on hold since)?
        let ids: Vec<i64> = due_customers(Lookup::Ids)
            .filter(not_held())
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(customer::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            continue;
        }
        counts.customers += ids.len() as u64;
        let txn = crate::db::begin_write(db).await?;
        let files = match rule.action() {
            // They have no conversations (the rule's condition), so no files either, but
            // whatever the deletion reports goes the usual way.
            Action::Delete => {
                records::delete_customers(&txn, ctx.org, &ids, &ctx.state.journal)
                    .await?
                    .1
            }
            Action::Anonymize => {
                super::anonymize::customers(&txn, ctx.org, ctx.now, &ids, &ctx.state.journal)
                    .await?;
                records::Files::default()
            }
        };
        txn.commit().await?;
        crash_point();
        remove_files(ctx.state, files).await;
    }
    Ok(())
}

// ---- audit log --------------------------------------------------------------------------

/// Removes the organization's entries older than the rule, wherever they sit in the chain
/// shared by all organizations (see `crate::audit::Removal`).
pub(super) async fn audit_log(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    let db = &ctx.state.db;
    let cutoff = rule.cutoff(ctx.now);
    let removal = crate::audit::Removal::OlderThan {
        org: ctx.org,
        cutoff,
    };
    if ctx.dry_run {
        counts.audit_events = audit_event::Entity::find_in(ctx.org)
            .filter(audit_event::Column::OccurredAt.lt(cutoff))
            .count(db)
            .await?;
        return Ok(());
    }
    // Entries of other organizations, and entries without one (failed logins of unknown
    // addresses), stay where they are: the audit log anchors the gaps the removed entries
    // leave and records the pruning, so the chain still verifies from its oldest kept row.
    let org = ctx.org;
    let audit = &ctx.state.audit;
    let guard = audit.exclusive().await;
    counts.audit_events = audit
        .remove_holding(&guard, db, removal, |removed| Entry {
            org: Some(org),
            actor: Actor::System("retention"),
            action: "audit.pruned",
            target: "audit_log".to_owned(),
            client: None,
            details: serde_json::json!({
                "removed": removed,
                "older_than": cutoff.to_rfc3339(),
            }),
        })
        .await?;
    Ok(())
}

// ---- access log -------------------------------------------------------------------------

/// Removes the organization's access entries older than the rule (one statement: the entries
/// are small, and nothing else refers to them).
pub(super) async fn access_log(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    use crate::db::entity::access_entry;
    let db = &ctx.state.db;
    let cutoff = rule.cutoff(ctx.now);
    counts.access_entries = if ctx.dry_run {
        access_entry::Entity::find_in(ctx.org)
            .filter(access_entry::Column::OccurredAt.lt(cutoff))
            .count(db)
            .await?
    } else {
        crate::audit::access::remove_older_than(db, ctx.org, cutoff).await?
    };
    Ok(())
}

// ---- unsent drafts ----------------------------------------------------------------------

/// Removes the organization's reply drafts last changed before the rule, through
/// `records::delete_drafts` (so the erasure journal replays it after a restore); a dry run
/// counts them. Legal holds keep conversations, not drafts.
pub(super) async fn unsent_drafts(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    let journal = (!ctx.dry_run).then_some(&ctx.state.journal);
    counts.drafts =
        crate::inbox::drafts::older_than(&ctx.state.db, ctx.org, rule.cutoff(ctx.now), journal)
            .await?;
    Ok(())
}

// ---- assist suggestions -----------------------------------------------------------------

/// Suggestions made before the rule (src/assist/suggest/): deleted, or anonymized — their
/// text and title emptied, kind, outcome and dates kept for the reports — through
/// [`records`] (journaled, so a restored backup does it again); a dry run counts them.
pub(super) async fn assist_suggestions(
    ctx: &Ctx<'_>,
    rule: &RetentionRule,
    counts: &mut CategoryCounts,
) -> Result<(), RetentionError> {
    let db = &ctx.state.db;
    let due = crate::assist::suggest::store::due(
        db,
        ctx.org,
        rule.cutoff(ctx.now),
        rule.action() == Action::Anonymize,
    )
    .await?;
    if ctx.dry_run {
        counts.suggestions = due.len() as u64;
        return Ok(());
    }
    for chunk in due.chunks(BATCH) {
        let txn = crate::db::begin_write(db).await?;
        counts.suggestions += match rule.action() {
            Action::Delete => {
                records::delete_suggestions(&txn, ctx.org, chunk, &ctx.state.journal).await?
            }
            Action::Anonymize => {
                records::anonymize_suggestions(&txn, ctx.org, chunk, &ctx.state.journal).await?
            }
        };
        txn.commit().await?;
    }
    Ok(())
}
