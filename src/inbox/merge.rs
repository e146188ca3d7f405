//! Merging conversations of one customer into one (issue 15), as Help Scout and FreeScout
//! agents know it:
//!
//! - `POST /conversations/{id}/merge` with `ids` (repeated): the customer's other
//!   conversations ticked on the conversation page go into this one;
//! - the inbox's bulk form (`src/inbox/bulk.rs`, action `merge`): the ticked rows go into the
//!   oldest of them.
//!
//! Everything that hangs off a conversation moves to the target: messages (with their
//! attachments and outbox rows), internal notes, tags (the union), drafts (an agent's newest),
//! read marks (read only where the agent had read all of them), access entries, notifications,
//! webhook deliveries, a legal hold the target lacks, and earlier aliases. The merged-away
//! conversations are deleted and leave an alias ([`conversation_alias`]: old id and token →
//! target, ids only) so that their old URLs redirect and later mail with their token threads
//! into the target (`src/mail/ingest.rs`); mail answering one of their messages finds the
//! message, now in the target. The search queue triggers re-index the moved messages under
//! the target and drop the old conversations' documents.
//!
//! Refused with a 400 that changes nothing: fewer than two conversations, conversations of
//! different customers, spam, or a restricted customer's. Audit-logged with ids only; the
//! webhook event `conversation.merged`.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Set,
};

use super::queries;
use crate::db::InOrg;
use crate::db::entity::{
    access_entry, conversation, conversation_alias, conversation_read, conversation_tag, draft,
    message, notification, report_fact, webhook_delivery,
};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// The conversation that merged-away conversation `old_id` of `org` went into, if it was
/// merged (old URLs redirect there).
pub async fn target_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    old_id: i64,
) -> Result<Option<i64>, DbErr> {
    conversation_alias::Entity::find_in(org)
        .select_only()
        .column(conversation_alias::Column::ConversationId)
        .filter(conversation_alias::Column::OldConversationId.eq(old_id))
        .into_tuple()
        .one(db)
        .await
}

/// The conversation that the merged-away conversation with subject token `token` went into
/// (threading of later mail).
pub async fn target_of_token(
    db: &impl ConnectionTrait,
    org: OrgId,
    token: &str,
) -> Result<Option<i64>, DbErr> {
    conversation_alias::Entity::find_in(org)
        .select_only()
        .column(conversation_alias::Column::ConversationId)
        .filter(conversation_alias::Column::Token.eq(token))
        .into_tuple()
        .one(db)
        .await
}

/// Checks and merges `others` into `target` (all of `org`) in one transaction, then writes the
/// audit entry and tells open pages. The answer is the ids merged away.
pub async fn merge_conversations(
    state: &AppState,
    scope: &TenantScope,
    target: i64,
    others: &[i64],
) -> Result<Vec<i64>, AppError> {
    let org = scope.org();
    let mut others: Vec<i64> = others.iter().copied().filter(|id| *id != target).collect();
    others.sort_unstable();
    others.dedup();
    if others.is_empty() {
        return Err(AppError::BadRequest("merge.too_few"));
    }
    if others.len() >= super::bulk::MAX_ROWS {
        return Err(AppError::BadRequest("bulk.too_many"));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let kept = queries::conversation(&txn, org, target).await?;
    let merged = conversation::Entity::lookup_in(org)
        .filter(conversation::Column::Id.is_in(others.iter().copied()))
        .all(&txn)
        .await?;
    // Another organization's id, or one that is gone: not found, like a page of it.
    if merged.len() != others.len() {
        return Err(AppError::NotFound);
    }
    if merged.iter().any(|c| c.customer_id != kept.customer_id) {
        return Err(AppError::BadRequest("merge.different_customers"));
    }
    if std::iter::once(&kept)
        .chain(&merged)
        .any(|c| c.status == super::triage::Status::Spam.as_str())
    {
        return Err(AppError::BadRequest("merge.spam"));
    }
    // One customer: restricted for one is restricted for all.
    crate::privacy::restrict::refuse_if_restricted(&txn, org, target).await?;
    merge(&txn, org, &kept, &merged, Utc::now(), &state.journal).await?;
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::ConversationMerged {
            conversation_id: target,
            merged: others.clone(),
        },
    )
    .await?;
    txn.commit().await?;
    scope
        .audit(
            state,
            "conversations.merged",
            format!("conversation:{target}"),
            serde_json::json!({ "into": target, "merged": others }),
        )
        .await?;
    queries::publish(state, org, target);
    for id in &others {
        queries::publish(state, org, *id);
    }
    Ok(others)
}

/// Moves everything of `merged` to `kept` and deletes `merged`, inside the caller's
/// transaction; all belong to `org` and one customer (checked by the caller). The merge is
/// appended to the erasure journal (`crate::backup::journal`), so a restored backup merges
/// again and a later deletion of `kept` reaches what the others held.
pub(crate) async fn merge(
    db: &impl ConnectionTrait,
    org: OrgId,
    kept: &conversation::Model,
    merged: &[conversation::Model],
    now: DateTime<Utc>,
    log: &crate::backup::Journal,
) -> Result<(), DbErr> {
    let ids: Vec<i64> = merged.iter().map(|c| c.id).collect();
    log.record_conversation_merge(org, &ids, kept.id)
        .await
        .map_err(|error| DbErr::Custom(error.to_string()))?;
    let target = kept.id;
    // Messages and notes (their attachments and outbox rows hang off the message).
    message::Entity::update_in(org)
        .col_expr(message::Column::ConversationId, Expr::value(target))
        .filter(message::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    // Tags: the union.
    let tags: BTreeSet<i64> = conversation_tag::Entity::find()
        .select_only()
        .column(conversation_tag::Column::TagId)
        .filter(conversation_tag::Column::ConversationId.is_in(ids.iter().copied()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    for tag in tags {
        conversation_tag::Entity::insert(conversation_tag::ActiveModel {
            conversation_id: Set(target),
            tag_id: Set(tag),
        })
        .on_conflict_do_nothing_on([
            conversation_tag::Column::ConversationId,
            conversation_tag::Column::TagId,
        ])
        .exec(db)
        .await?;
    }
    conversation_tag::Entity::delete_many()
        .filter(conversation_tag::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    move_drafts(db, org, target, &ids).await?;
    // What was suggested for the merged conversations (and from them, elsewhere) goes: the
    // kept conversation's suggestions are computed for its own newest message.
    crate::assist::suggest::store::forget_conversations(db, org, &ids).await?;
    merge_read_marks(db, org, target, &ids).await?;
    // Who opened them, and the webhook deliveries about them: erasure and retention of the
    // target reach them now.
    access_entry::Entity::update_in(org)
        .col_expr(access_entry::Column::ConversationId, Expr::value(target))
        .filter(access_entry::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    webhook_delivery::Entity::update_in(org)
        .col_expr(
            webhook_delivery::Column::ConversationId,
            Expr::value(target),
        )
        .filter(webhook_delivery::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    // In reports they count as the one conversation they became (src/reports/facts.rs: the
    // target's row is recomputed when the merge is published).
    // (Walking the organization's rows is right here: the primary key leads with it.)
    report_fact::Entity::delete_in(org)
        .filter(report_fact::Column::ConversationRef.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    // The team's notifications about them point at the target (src/inbox/notifications).
    notification::Entity::update_in(org)
        .col_expr(notification::Column::ConversationId, Expr::value(target))
        .filter(notification::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    // A legal hold on a merged conversation must not end with it.
    if crate::retention::hold::conversation_hold(db, org, target)
        .await?
        .is_none()
    {
        for id in &ids {
            if let Some(reason) = crate::retention::hold::conversation_hold(db, org, *id).await? {
                crate::retention::hold::set_conversation_hold(db, org, target, Some(&reason))
                    .await?;
                break;
            }
        }
    }
    // Aliases: earlier ones of the merged conversations, then one for each of them.
    conversation_alias::Entity::update_in(org)
        .col_expr(
            conversation_alias::Column::ConversationId,
            Expr::value(target),
        )
        .filter(conversation_alias::Column::ConversationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    for old in merged {
        conversation_alias::ActiveModel {
            organization_id: Set(org),
            old_conversation_id: Set(old.id),
            token: Set(old.token.clone()),
            conversation_id: Set(target),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    let message_count = kept.message_count + merged.iter().map(|c| c.message_count).sum::<i32>();
    let created_at = merged
        .iter()
        .map(|c| c.created_at)
        .fold(kept.created_at, std::cmp::min);
    let last_activity_at = merged
        .iter()
        .map(|c| c.last_activity_at)
        .fold(kept.last_activity_at, std::cmp::max);
    // A reply in any of them answered the customer: the earliest is the first response.
    let first_responded_at = merged
        .iter()
        .filter_map(|c| c.first_responded_at)
        .chain(kept.first_responded_at)
        .min();
    conversation::Entity::update_in(org)
        .col_expr(
            conversation::Column::MessageCount,
            Expr::value(message_count),
        )
        .col_expr(conversation::Column::CreatedAt, Expr::value(created_at))
        .col_expr(
            conversation::Column::LastActivityAt,
            Expr::value(last_activity_at),
        )
        .col_expr(
            conversation::Column::FirstRespondedAt,
            Expr::value(first_responded_at),
        )
        .filter(conversation::Column::Id.eq(target))
        .exec(db)
        .await?;
    // Earlier start, more tags: the deadlines are those of the merged conversation.
    crate::sla::compute(db, org, &[target]).await?;
    // Deleted here, not through crate::records: their messages, notes, files and everything
    // else moved to the target above; only the emptied rows (and their tag links) remain.
    conversation::Entity::delete_in(org)
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Each agent keeps one draft in the target (a draft per agent and conversation): their
/// newest; the others go.
async fn move_drafts(
    db: &impl ConnectionTrait,
    org: OrgId,
    target: i64,
    merged: &[i64],
) -> Result<(), DbErr> {
    let all: Vec<i64> = merged.iter().copied().chain([target]).collect();
    let drafts = draft::Entity::lookup_in(org)
        .filter(draft::Column::ConversationId.is_in(all.iter().copied()))
        .all(db)
        .await?;
    let mut newest: BTreeMap<i64, &draft::Model> = BTreeMap::new();
    for d in &drafts {
        let newer = newest
            .get(&d.user_id)
            .is_none_or(|kept| kept.updated_at < d.updated_at);
        if newer {
            newest.insert(d.user_id, d);
        }
    }
    let keep: BTreeSet<i64> = newest.values().map(|d| d.id).collect();
    let drop: Vec<i64> = drafts
        .iter()
        .map(|d| d.id)
        .filter(|id| !keep.contains(id))
        .collect();
    crate::records::delete_rows_in::<draft::Entity>(db, org, draft::Column::Id, &drop).await?;
    draft::Entity::update_in(org)
        .col_expr(draft::Column::ConversationId, Expr::value(target))
        .filter(draft::Column::Id.is_in(keep.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// An agent has read the merged conversation only if they had read every one of them: then
/// since the earliest of those times; otherwise it is unread for them.
async fn merge_read_marks(
    db: &impl ConnectionTrait,
    org: OrgId,
    target: i64,
    merged: &[i64],
) -> Result<(), DbErr> {
    let all: Vec<i64> = merged.iter().copied().chain([target]).collect();
    let marks = conversation_read::Entity::lookup_in(org)
        .filter(conversation_read::Column::ConversationId.is_in(all.iter().copied()))
        .all(db)
        .await?;
    let mut by_user: BTreeMap<i64, Vec<Option<DateTime<Utc>>>> = BTreeMap::new();
    for mark in &marks {
        by_user.entry(mark.user_id).or_default().push(mark.read_at);
    }
    crate::records::delete_rows_in::<conversation_read::Entity>(
        db,
        org,
        conversation_read::Column::ConversationId,
        &all,
    )
    .await?;
    for (user_id, times) in by_user {
        let read_everywhere = times.len() == all.len() && times.iter().all(Option::is_some);
        if read_everywhere {
            let earliest = times.into_iter().flatten().min();
            super::unread::set_read(db, org, user_id, target, earliest).await?;
        }
    }
    Ok(())
}

/// `POST /conversations/{id}/merge`: the ticked conversations (`ids`) go into this one.
pub async fn merge_into(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let target = path.into_inner();
    let others = ids_of(&fields)?;
    merge_conversations(&state, &scope, target, &others).await?;
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(target),
        "flash.merged",
    ))
}

/// The `ids` of a form; a value that is not an id is refused.
pub fn ids_of(fields: &[(String, String)]) -> Result<Vec<i64>, AppError> {
    fields
        .iter()
        .filter(|(key, _)| key == "ids")
        .map(|(_, value)| {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| AppError::BadRequest("merge.too_few"))
        })
        .collect()
}

/// The conversation a bulk merge keeps: the oldest of the ticked ones of `org` (by creation,
/// then id); not found when one is not the organization's.
pub async fn oldest_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<i64, AppError> {
    let mut rows: Vec<(i64, DateTime<Utc>)> = conversation::Entity::lookup_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .column(conversation::Column::CreatedAt)
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    if rows.len() != ids.len() {
        return Err(AppError::NotFound);
    }
    rows.sort_by_key(|(id, at)| (*at, *id));
    rows.first()
        .map(|(id, _)| *id)
        .ok_or(AppError::BadRequest("merge.too_few"))
}
