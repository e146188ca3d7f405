//! The kept suggestions: stored once per customer message, marked when the agent replies,
//! and read by the page, the export, the reports and the retention rule.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TryInsertResult,
};

use super::compute::Candidate;
use crate::db::InOrg;
use crate::db::entity::{assist_suggestion, assist_suggestion_set};
use crate::orgs::OrgId;

/// The suggestions kept for a customer's message, in the order they were offered.
pub async fn of_message(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    message_id: i64,
) -> Result<Vec<assist_suggestion::Model>, DbErr> {
    assist_suggestion::Entity::lookup_in(org)
        .filter(assist_suggestion::Column::ConversationId.eq(conversation_id))
        .filter(assist_suggestion::Column::MessageId.eq(message_id))
        .order_by_asc(assist_suggestion::Column::Id)
        .all(db)
        .await
}

/// Every suggestion of a conversation, oldest first: for the customer's export.
pub async fn of_conversation(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<Vec<assist_suggestion::Model>, DbErr> {
    assist_suggestion::Entity::lookup_in(org)
        .filter(assist_suggestion::Column::ConversationId.eq(conversation_id))
        .order_by_asc(assist_suggestion::Column::Id)
        .all(db)
        .await
}

/// Whether suggestions were computed for a message already (possibly none).
pub async fn computed(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    message_id: i64,
) -> Result<bool, DbErr> {
    Ok(assist_suggestion_set::Entity::find_in(org)
        .filter(assist_suggestion_set::Column::ConversationId.eq(conversation_id))
        .filter(assist_suggestion_set::Column::MessageId.eq(message_id))
        .select_only()
        .column(assist_suggestion_set::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some())
}

/// Keeps the candidates for a message, once: in one transaction, a row unique on
/// (conversation, message) claims it ("on conflict do nothing"), and only the request that
/// claimed it stores the candidates, so two agents opening the page at once keep one set. An
/// empty result is claimed too: it is remembered, not searched again on the next view.
/// Whether this call stored the set (false: it was kept already).
pub async fn keep(
    db: &DatabaseConnection,
    org: OrgId,
    conversation_id: i64,
    message_id: i64,
    candidates: &[Candidate],
    shown: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let claimed = assist_suggestion_set::Entity::insert(assist_suggestion_set::ActiveModel {
        organization_id: Set(org),
        conversation_id: Set(conversation_id),
        message_id: Set(message_id),
        kept: Set(i32::try_from(candidates.len()).unwrap_or(i32::MAX)),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([
        assist_suggestion_set::Column::ConversationId,
        assist_suggestion_set::Column::MessageId,
    ])
    .exec_without_returning(&txn)
    .await?;
    if !matches!(claimed, TryInsertResult::Inserted(n) if n > 0) {
        txn.rollback().await?;
        return Ok(false);
    }
    if !candidates.is_empty() {
        let rows = candidates.iter().map(|c| assist_suggestion::ActiveModel {
            organization_id: Set(org),
            conversation_id: Set(conversation_id),
            message_id: Set(message_id),
            kind: Set(c.kind.to_owned()),
            source_id: Set(c.source_id),
            title: Set(c.title.chars().take(300).collect()),
            text: Set(c.text.clone()),
            shown: Set(shown),
            outcome: Set(None),
            created_at: Set(now),
            decided_at: Set(None),
            ..Default::default()
        });
        assist_suggestion::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// The text's word pairs (lowercased): a reply that keeps a suggestion keeps its pairs, one
/// that only shares a few words (a greeting, a product) does not.
fn pairs(text: &str) -> BTreeSet<(String, String)> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    match words.len() {
        0 => BTreeSet::new(),
        1 => BTreeSet::from([(words[0].clone(), String::new())]),
        _ => words
            .windows(2)
            .map(|w| (w[0].clone(), w[1].clone()))
            .collect(),
    }
}

/// What a sent reply did with a suggestion: `used` when it holds (nearly) all the
/// suggestion's word pairs, `edited` when it holds at least half, `ignored` otherwise.
pub fn outcome_of(suggestion: &str, reply: &str) -> &'static str {
    let theirs = pairs(suggestion);
    if theirs.is_empty() {
        return "ignored";
    }
    let sent = pairs(reply);
    let kept = theirs.intersection(&sent).count() as f64 / theirs.len() as f64;
    match kept {
        k if k >= 0.9 => "used",
        k if k >= 0.5 => "edited",
        _ => "ignored",
    }
}

/// Marks the conversation's undecided suggestions by what the sent `reply` did with them.
pub async fn decide(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    reply: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let open = assist_suggestion::Entity::lookup_in(org)
        .filter(assist_suggestion::Column::ConversationId.eq(conversation_id))
        .filter(assist_suggestion::Column::Outcome.is_null())
        .all(db)
        .await?;
    for s in open {
        assist_suggestion::Entity::update_in(org)
            .col_expr(
                assist_suggestion::Column::Outcome,
                Expr::value(outcome_of(&s.text, reply)),
            )
            .col_expr(assist_suggestion::Column::DecidedAt, Expr::value(now))
            .filter(assist_suggestion::Column::Id.eq(s.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Deletes the suggestions of these conversations (their conversation went, or was
/// anonymized: the texts may hold what it held).
pub async fn forget_conversations(
    db: &impl ConnectionTrait,
    org: OrgId,
    ids: &[i64],
) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        assist_suggestion::Entity::delete_in(org)
            .filter(assist_suggestion::Column::ConversationId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
        assist_suggestion_set::Entity::delete_in(org)
            .filter(assist_suggestion_set::Column::ConversationId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
        // And what was suggested elsewhere from them: a closed conversation's reply.
        assist_suggestion::Entity::delete_in(org)
            .filter(assist_suggestion::Column::Kind.eq("conversation"))
            .filter(assist_suggestion::Column::SourceId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Marks the suggestions kept (in shadow mode) for a message as shown.
pub async fn mark_shown(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    message_id: i64,
) -> Result<(), DbErr> {
    assist_suggestion::Entity::update_in(org)
        .col_expr(assist_suggestion::Column::Shown, Expr::value(true))
        .filter(assist_suggestion::Column::ConversationId.eq(conversation_id))
        .filter(assist_suggestion::Column::MessageId.eq(message_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The ids of suggestions made before `cutoff` (the retention rule); for anonymizing, only
/// those that still hold text.
pub async fn due(
    db: &impl ConnectionTrait,
    org: OrgId,
    cutoff: DateTime<Utc>,
    holding_text_only: bool,
) -> Result<Vec<i64>, DbErr> {
    let mut due = assist_suggestion::Entity::find_in(org)
        .filter(assist_suggestion::Column::CreatedAt.lt(cutoff));
    if holding_text_only {
        due = due.filter(assist_suggestion::Column::Text.ne(""));
    }
    due.select_only()
        .column(assist_suggestion::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// Empties the text and title of these suggestions; kind, outcome and dates stay for the
/// reports. The number changed.
pub async fn anonymize(db: &impl ConnectionTrait, org: OrgId, ids: &[i64]) -> Result<u64, DbErr> {
    let mut changed = 0;
    for chunk in ids.chunks(500) {
        changed += assist_suggestion::Entity::update_in(org)
            .col_expr(assist_suggestion::Column::Text, Expr::value(""))
            .col_expr(assist_suggestion::Column::Title, Expr::value(""))
            .filter(assist_suggestion::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(changed)
}

/// How suggestions fared, for `/reports`: (kept in shadow mode, shown) × outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub shadow: [u64; 4],
    pub shown: [u64; 4],
}

impl Tally {
    /// Index into the arrays: used, edited, ignored, not decided yet.
    fn slot(outcome: Option<&str>) -> usize {
        match outcome {
            Some("used") => 0,
            Some("edited") => 1,
            Some("ignored") => 2,
            _ => 3,
        }
    }
}

/// Counts the organization's suggestions made from `since` until before `until`.
pub async fn tally(
    db: &impl ConnectionTrait,
    org: OrgId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Tally, DbErr> {
    let rows: Vec<(bool, Option<String>, i64)> = assist_suggestion::Entity::find_in(org)
        .filter(assist_suggestion::Column::CreatedAt.gte(since))
        .filter(assist_suggestion::Column::CreatedAt.lt(until))
        .select_only()
        .column(assist_suggestion::Column::Shown)
        .column(assist_suggestion::Column::Outcome)
        .column_as(assist_suggestion::Column::Id.count(), "n")
        .group_by(assist_suggestion::Column::Shown)
        .group_by(assist_suggestion::Column::Outcome)
        .into_tuple()
        .all(db)
        .await?;
    let mut tally = Tally::default();
    for (shown, outcome, n) in rows {
        let slot = Tally::slot(outcome.as_deref());
        let n = u64::try_from(n).unwrap_or_default();
        if shown {
            tally.shown[slot] += n;
        } else {
            tally.shadow[slot] += n;
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::outcome_of;

    #[test]
    fn a_reply_is_judged_by_how_much_of_the_suggestion_it_kept() {
        let s = "Your parcel left our warehouse today, tracking follows by email.";
        assert_eq!(outcome_of(s, s), "used");
        assert_eq!(
            outcome_of(
                s,
                "Hi Anna, your parcel left our warehouse today. Tracking soon."
            ),
            "edited"
        );
        assert_eq!(
            outcome_of(s, "We are sorry, the item is out of stock."),
            "ignored"
        );
        // Sharing words is not using it.
        assert_eq!(
            outcome_of(
                "Hallo Carla, anbei das Rücksendeetikett für Ihre Jacke.",
                "Hallo Carla, das Rücksendeetikett für Bestellung 1 folgt, die Jacke auch."
            ),
            "ignored"
        );
        assert_eq!(outcome_of("", "x"), "ignored");
    }
}
