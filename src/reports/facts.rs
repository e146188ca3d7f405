//! The facts reports are computed from: one `report_facts` row per conversation, with no
//! personal data and no customer id (org, opaque conversation id, channel, times, assignee,
//! tag ids, SLA outcomes), so the row outlives the conversation's anonymization and deletion.
//!
//! **Kept up to date where the events happen.** Every change to a conversation is published
//! for the live inbox (`crate::inbox::events::InboxEvents::publish`: ingest, compose, replies,
//! status changes single, bulk and by the API, assignment, tags, snooze, spam); publishing also
//! marks the conversation's facts as due ([`Pending::touch`]). One task ([`spawn_worker`])
//! recomputes due facts within a second; the report page recomputes its organization's due
//! facts itself before it reads ([`settle`]), so it never shows stale figures. Conversations
//! that have no row yet (existing ones after the upgrade, bulk imports) are filled in at
//! start-up and at the end of each `lethe import` and `lethe demo-data` ([`catch_up`]), so
//! the report page never scans for them. Deleting a conversation
//! (`crate::records`) recomputes its row first, in the same transaction, so it counts as it
//! last stood. The cost: a change whose facts were due when the process died is recomputed
//! only when the conversation changes again.
//!
//! **Left out** (`counted = false`): spam, and the conversations of a customer with an
//! objection that excludes them from reports (`crate::privacy::objection`); recomputed when
//! the objection is recorded or lifted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::db::InOrg;
use crate::db::entity::{conversation, conversation_tag, customer, message, report_fact};
use crate::orgs::OrgId;
use crate::privacy::objection::{Effect, Effects};
use crate::state::AppState;

/// Conversations recomputed per statement.
const CHUNK: usize = 500;

/// Conversations whose facts are due, by organization (in memory).
#[derive(Default)]
pub struct Pending {
    due: Mutex<HashMap<OrgId, BTreeSet<i64>>>,
    wake: tokio::sync::Notify,
}

impl Pending {
    /// Marks a conversation's facts as due.
    pub fn touch(&self, org: OrgId, conversation_id: i64) {
        if let Ok(mut due) = self.due.lock() {
            due.entry(org).or_default().insert(conversation_id);
        }
        self.wake.notify_one();
    }

    fn take(&self, org: Option<OrgId>) -> Vec<(OrgId, Vec<i64>)> {
        let Ok(mut due) = self.due.lock() else {
            return Vec::new();
        };
        match org {
            Some(org) => due
                .remove(&org)
                .map(|ids| vec![(org, ids.into_iter().collect())])
                .unwrap_or_default(),
            None => due
                .drain()
                .map(|(org, ids)| (org, ids.into_iter().collect()))
                .collect(),
        }
    }

    fn put_back(&self, org: OrgId, ids: &[i64]) {
        if let Ok(mut due) = self.due.lock() {
            due.entry(org).or_default().extend(ids.iter().copied());
        }
    }
}

/// Recomputes what is due for `org` (or every organization), one transaction per chunk. On a
/// database error the ids stay due.
pub async fn settle(state: &AppState, org: Option<OrgId>) -> Result<(), DbErr> {
    let pending = &state.events.report_facts;
    let mut failed = None;
    for (org, ids) in pending.take(org) {
        if failed.is_some() {
            pending.put_back(org, &ids); // after an error: due again, for the next round
            continue;
        }
        for chunk in ids.chunks(CHUNK) {
            if let Err(error) = refresh_in_transaction(state, org, chunk).await {
                pending.put_back(org, &ids);
                failed = Some(error);
                break;
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

async fn refresh_in_transaction(state: &AppState, org: OrgId, ids: &[i64]) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(&state.db).await?;
    refresh(&txn, org, ids).await?;
    txn.commit().await
}

/// Fills in the facts of the organization's conversations that have none yet.
pub async fn catch_up(state: &AppState, org: OrgId) -> Result<u64, DbErr> {
    let mut done = 0;
    loop {
        let missing: Vec<i64> = conversation::Entity::find_in(org)
            .select_only()
            .column(conversation::Column::Id)
            .filter(
                conversation::Column::Id.not_in_subquery(
                    Query::select()
                        .column(report_fact::Column::ConversationRef)
                        .from(report_fact::Entity)
                        .and_where(report_fact::Column::OrganizationId.eq(org))
                        .to_owned(),
                ),
            )
            .limit(CHUNK as u64 * 4)
            .into_tuple()
            .all(&state.db)
            .await?;
        if missing.is_empty() {
            return Ok(done);
        }
        for chunk in missing.chunks(CHUNK) {
            refresh_in_transaction(state, org, chunk).await?;
        }
        done += missing.len() as u64;
    }
}

/// The start-up fill and the task that recomputes due facts (wherever pages are served).
pub async fn spawn_worker(state: std::sync::Arc<AppState>) {
    tokio::spawn(async move {
        let orgs: Vec<OrgId> = crate::db::entity::organization::Entity::find()
            .select_only()
            .column(crate::db::entity::organization::Column::Id)
            .into_tuple()
            .all(&state.db)
            .await
            .unwrap_or_default();
        for org in orgs {
            if let Err(error) = catch_up(&state, org).await {
                tracing::error!(%error, "reports: facts not filled in at start");
            }
        }
        loop {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                state.events.report_facts.wake.notified(),
            )
            .await;
            // Let a burst (a bulk change) gather.
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Err(error) = settle(&state, None).await {
                tracing::error!(%error, "reports: facts not recomputed");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    });
}

/// Recomputes the facts of these conversations of `org` from their current state (the
/// caller's transaction). Ids without a conversation keep the row they have.
pub async fn refresh(db: &impl ConnectionTrait, org: OrgId, ids: &[i64]) -> Result<(), DbErr> {
    for chunk in ids.chunks(CHUNK) {
        refresh_chunk(db, org, chunk).await?;
    }
    Ok(())
}

type ConversationRow = (
    i64,
    Option<i64>,
    i64,
    String,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

async fn refresh_chunk(db: &impl ConnectionTrait, org: OrgId, ids: &[i64]) -> Result<(), DbErr> {
    let conversations: Vec<ConversationRow> = conversation::Entity::lookup_in(org)
        .select_only()
        .columns([
            conversation::Column::Id,
            conversation::Column::ChannelId,
            conversation::Column::CustomerId,
            conversation::Column::Status,
            conversation::Column::AssigneeId,
            conversation::Column::CreatedAt,
            conversation::Column::ClosedAt,
            conversation::Column::FirstResponseDueAt,
            conversation::Column::ResolutionDueAt,
            conversation::Column::FirstRespondedAt,
        ])
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    if conversations.is_empty() {
        return Ok(());
    }
    let found: Vec<i64> = conversations.iter().map(|c| c.0).collect();
    let customer_ids: BTreeSet<i64> = conversations.iter().map(|c| c.2).collect();
    let excluded: BTreeSet<i64> = customer::Entity::lookup_in(org)
        .select_only()
        .columns([customer::Column::Id, customer::Column::ObjectionEffects])
        .filter(customer::Column::Id.is_in(customer_ids))
        .filter(customer::Column::ObjectionEffects.is_not_null())
        .into_tuple::<(i64, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .filter(|(_, stored)| {
            Effects::from_stored(stored.as_deref()).contains(Effect::ExcludeReports)
        })
        .map(|(id, _)| id)
        .collect();
    let messages: Vec<(i64, String, String, DateTime<Utc>)> = message::Entity::lookup_in(org)
        .select_only()
        .columns([
            message::Column::ConversationId,
            message::Column::Direction,
            message::Column::Kind,
            message::Column::CreatedAt,
        ])
        .filter(message::Column::ConversationId.is_in(found.iter().copied()))
        .filter(message::Column::Direction.ne("note"))
        .into_tuple()
        .all(db)
        .await?;
    let first_response = first_responses(&messages);
    let mut tags: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (conversation_id, tag_id) in conversation_tag::Entity::find()
        .select_only()
        .columns([
            conversation_tag::Column::ConversationId,
            conversation_tag::Column::TagId,
        ])
        .filter(conversation_tag::Column::ConversationId.is_in(found.iter().copied()))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
    {
        tags.entry(conversation_id).or_default().push(tag_id);
    }
    // A first response once seen stays (a retention rule may remove messages later).
    let known: BTreeMap<i64, DateTime<Utc>> = report_fact::Entity::find_in(org)
        .select_only()
        .columns([
            report_fact::Column::ConversationRef,
            report_fact::Column::FirstResponseAt,
        ])
        .filter(report_fact::Column::ConversationRef.is_in(found.iter().copied()))
        .into_tuple::<(i64, Option<DateTime<Utc>>)>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(id, at)| at.map(|at| (id, at)))
        .collect();
    let rows = conversations.into_iter().map(
        |(
            id,
            channel_id,
            customer_id,
            status,
            assignee_id,
            created_at,
            closed_at,
            first_response_due_at,
            resolution_due_at,
            sla_first_responded_at,
        )| {
            let closed_at = closed_at.filter(|_| status == "closed");
            let first_response_at = first_response.get(&id).copied().or(known.get(&id).copied());
            report_fact::ActiveModel {
                organization_id: Set(org),
                conversation_ref: Set(id),
                channel_id: Set(channel_id),
                assignee_id: Set(assignee_id),
                created_at: Set(created_at),
                first_response_at: Set(first_response_at),
                closed_at: Set(closed_at),
                tag_ids: Set(tag_list(tags.get(&id).map(Vec::as_slice).unwrap_or(&[]))),
                counted: Set(status != "spam" && !excluded.contains(&customer_id)),
                sla_first_response_due_at: Set(first_response_due_at),
                sla_first_responded_at: Set(sla_first_responded_at),
                sla_resolution_due_at: Set(resolution_due_at),
            }
        },
    );
    report_fact::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                report_fact::Column::OrganizationId,
                report_fact::Column::ConversationRef,
            ])
            .update_columns([
                report_fact::Column::ChannelId,
                report_fact::Column::AssigneeId,
                report_fact::Column::CreatedAt,
                report_fact::Column::FirstResponseAt,
                report_fact::Column::ClosedAt,
                report_fact::Column::TagIds,
                report_fact::Column::Counted,
                report_fact::Column::SlaFirstResponseDueAt,
                report_fact::Column::SlaFirstRespondedAt,
                report_fact::Column::SlaResolutionDueAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The first agent reply of each conversation: the first outbound message (not a forward) at
/// or after the first customer message. A conversation an agent started has its response
/// when the customer has written and an agent answered.
fn first_responses(
    messages: &[(i64, String, String, DateTime<Utc>)],
) -> BTreeMap<i64, DateTime<Utc>> {
    let mut first_inbound: BTreeMap<i64, DateTime<Utc>> = BTreeMap::new();
    for (id, direction, _, at) in messages {
        if direction == "inbound" {
            let entry = first_inbound.entry(*id).or_insert(*at);
            *entry = (*entry).min(*at);
        }
    }
    let mut out: BTreeMap<i64, DateTime<Utc>> = BTreeMap::new();
    for (id, direction, kind, at) in messages {
        if direction != "outbound" || kind == "forward" {
            continue;
        }
        if first_inbound.get(id).is_some_and(|asked| at >= asked) {
            let entry = out.entry(*id).or_insert(*at);
            *entry = (*entry).min(*at);
        }
    }
    out
}

/// Tag ids stored as ",3,7," (so one can be matched with LIKE); empty for none.
pub fn tag_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let inner: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!(",{},", inner.join(","))
}

/// The tag ids of a stored list.
pub fn parse_tag_list(stored: &str) -> impl Iterator<Item = i64> + '_ {
    stored.split(',').filter_map(|v| v.parse().ok())
}

/// The customer's conversations, recomputed (an objection recorded or lifted); how many.
pub async fn refresh_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<u64, DbErr> {
    let ids: Vec<i64> = conversation::Entity::lookup_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .into_tuple()
        .all(db)
        .await?;
    refresh(db, org, &ids).await?;
    Ok(ids.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tag_lists_round_trip() {
        assert_eq!(tag_list(&[7, 3, 3]), ",3,7,");
        assert_eq!(tag_list(&[]), "");
        assert_eq!(parse_tag_list(",3,7,").collect::<Vec<_>>(), vec![3, 7]);
    }

    #[test]
    fn the_first_response_follows_the_customer() {
        let at = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        let m = |id, d: &str, k: &str, h| (id, d.to_owned(), k.to_owned(), at(h));
        let messages = vec![
            m(1, "inbound", "normal", 2),
            m(1, "outbound", "forward", 3),
            m(1, "outbound", "normal", 5),
            m(1, "outbound", "normal", 4),
            m(2, "outbound", "normal", 1),
        ];
        let out = first_responses(&messages);
        assert_eq!(out.get(&1), Some(&at(4)));
        assert_eq!(out.get(&2), None);
    }
}
