//! Bulk actions on the inbox list (`POST /inbox/bulk`): the rows ticked in the list's form
//! (`ids`, repeated) and one action — assign (to a member or nobody), set a status, add or
//! remove a tag, snooze, mark as spam, merge (into the oldest ticked conversation:
//! src/inbox/merge.rs). A plain form: it works without JavaScript.
//!
//! Conversations of other organizations, and (for agents) of restricted customers, are left
//! alone; the answer says how many changed. A merge is all or nothing: it is refused (400,
//! nothing changed) unless every ticked row may be merged.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

use super::snooze::Until;
use super::triage::{self, Status};
use crate::db::InOrg;
use crate::db::entity::conversation;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// At most this many rows per action (a page holds 50).
pub const MAX_ROWS: usize = 200;

/// The action of a bulk form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A member's user id, or nobody.
    Assign(Option<i64>),
    Status(Status),
    AddTag(i64),
    RemoveTag(i64),
    Snooze(Until),
    Spam,
    /// Into the oldest of the ticked conversations.
    Merge,
}

impl Action {
    /// `assign:<user id>` / `assign:` / `status:<status>` / `tag_add:<id>` / `tag_remove:<id>`
    /// / `snooze:<preset>` / `spam` / `merge`.
    pub fn parse(value: &str, now: chrono::DateTime<Utc>) -> Result<Self, &'static str> {
        let (kind, argument) = value.trim().split_once(':').unwrap_or((value.trim(), ""));
        let id = || argument.parse::<i64>().map_err(|_| "bulk.invalid");
        match kind {
            "assign" if argument.is_empty() => Ok(Action::Assign(None)),
            "assign" => Ok(Action::Assign(Some(id()?))),
            "status" => Status::parse(argument)
                .filter(|s| *s != Status::Spam)
                .map(Action::Status)
                .ok_or("bulk.invalid"),
            "tag_add" => Ok(Action::AddTag(id()?)),
            "tag_remove" => Ok(Action::RemoveTag(id()?)),
            "snooze" => Until::parse(argument, "", now)
                .map(Action::Snooze)
                .map_err(|_| "bulk.invalid"),
            "spam" => Ok(Action::Spam),
            "merge" => Ok(Action::Merge),
            _ => Err("bulk.invalid"),
        }
    }
}

pub async fn bulk(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let org = scope.org();
    let now = Utc::now();
    let mut ids: Vec<i64> = fields
        .iter()
        .filter(|(key, _)| key == "ids")
        .filter_map(|(_, value)| value.trim().parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(AppError::BadRequest("bulk.none_selected"));
    }
    if ids.len() > MAX_ROWS {
        return Err(AppError::BadRequest("bulk.too_many"));
    }
    let action = fields
        .iter()
        .find(|(key, _)| key == "action")
        .map(|(_, value)| Action::parse(value, now))
        .unwrap_or(Err("bulk.invalid"))
        .map_err(AppError::BadRequest)?;
    let back = fields
        .iter()
        .find(|(key, _)| key == "back")
        .map(|(_, value)| value.as_str())
        .filter(|back| back.starts_with(paths::INBOX.path()) && !back.contains("//"))
        .unwrap_or(paths::INBOX.path());
    if action == Action::Merge {
        let target = super::merge::oldest_of(&state.db, org, &ids).await?;
        super::merge::merge_conversations(&state, &scope, target, &ids).await?;
        return Ok(see_other_with_flash(back, "flash.merged"));
    }
    // Only this organization's conversations, and for agents none of a restricted customer.
    let mut query = conversation::Entity::lookup_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::Id.is_in(ids.iter().copied()));
    if !scope.role().is_admin() {
        let restricted = crate::privacy::restrict::restricted_customer_ids(&state.db, org).await?;
        if !restricted.is_empty() {
            query = query.filter(conversation::Column::CustomerId.is_not_in(restricted));
        }
    }
    let ids: Vec<i64> = query.into_tuple().all(&state.db).await?;
    if let Action::Assign(Some(user_id)) = action {
        crate::orgs::queries::role_in(&state.db, org.get(), user_id)
            .await?
            .ok_or(AppError::BadRequest("assignee.invalid"))?;
    }
    if let Action::AddTag(tag) | Action::RemoveTag(tag) = action {
        super::tags::find(&state.db, org, tag)
            .await?
            .ok_or(AppError::BadRequest("bulk.invalid"))?;
    }
    // Who gets a notification: the conversations an assignment gives to someone new.
    let newly_assigned: Vec<i64> = match action {
        Action::Assign(Some(user_id)) if !ids.is_empty() => {
            conversation::Entity::lookup_in(org)
                .select_only()
                .column(conversation::Column::Id)
                .filter(conversation::Column::Id.is_in(ids.iter().copied()))
                .filter(
                    sea_orm::Condition::any()
                        .add(conversation::Column::AssigneeId.is_null())
                        .add(conversation::Column::AssigneeId.ne(user_id)),
                )
                .into_tuple()
                .all(&state.db)
                .await?
        }
        _ => Vec::new(),
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let event = |conversation_id| match action {
        Action::Assign(_) => Some(crate::webhooks::Event::ConversationAssigned { conversation_id }),
        Action::Status(_) | Action::Snooze(_) | Action::Spam => {
            Some(crate::webhooks::Event::ConversationStatusChanged { conversation_id })
        }
        Action::AddTag(_) | Action::RemoveTag(_) | Action::Merge => None,
    };
    match &action {
        Action::Assign(assignee) => {
            conversation::Entity::update_in(org)
                .col_expr(conversation::Column::AssigneeId, Expr::val(*assignee))
                .filter(conversation::Column::Id.is_in(ids.iter().copied()))
                .exec(&txn)
                .await?;
        }
        Action::Status(status) => {
            triage::set_status_of(&txn, org, &ids, *status, None, now).await?;
        }
        Action::Snooze(until) => {
            triage::snooze(&txn, org, &ids, until.time(), now).await?;
        }
        Action::Spam => {
            triage::set_status_of(&txn, org, &ids, Status::Spam, None, now).await?;
        }
        Action::AddTag(tag) => {
            super::tags::attach(&txn, org, &ids, *tag).await?;
        }
        Action::RemoveTag(tag) => {
            super::tags::detach(&txn, org, &ids, *tag).await?;
        }
        // Done above, all or nothing.
        Action::Merge => {}
    }
    for id in &ids {
        if let Some(event) = event(*id) {
            crate::webhooks::emit(&txn, org, event).await?;
        }
    }
    txn.commit().await?;
    for id in &ids {
        super::queries::publish(&state, org, *id);
    }
    if let Action::Assign(Some(user_id)) = action {
        super::notifications::assigned(&state, org, &newly_assigned, user_id, scope.user_id())
            .await;
    }
    scope
        .audit(
            &state,
            "conversations.bulk_changed",
            format!("conversations:{}", ids.len()),
            serde_json::json!({ "action": describe(&action), "conversations": ids }),
        )
        .await?;
    Ok(see_other_with_flash(back, "flash.bulk_done"))
}

/// The action as the audit log names it (no personal data).
fn describe(action: &Action) -> String {
    match action {
        Action::Assign(Some(user)) => format!("assign:{user}"),
        Action::Assign(None) => "assign:".to_owned(),
        Action::Status(status) => format!("status:{}", status.as_str()),
        Action::AddTag(tag) => format!("tag_add:{tag}"),
        Action::RemoveTag(tag) => format!("tag_remove:{tag}"),
        Action::Snooze(Until::Answer) => "snooze:answer".to_owned(),
        Action::Snooze(Until::At(at)) => format!("snooze:{}", at.to_rfc3339()),
        Action::Spam => "spam".to_owned(),
        Action::Merge => "merge".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_and_bad_ones_are_refused() {
        let now = Utc::now();
        assert_eq!(Action::parse("assign:7", now), Ok(Action::Assign(Some(7))));
        assert_eq!(Action::parse("assign:", now), Ok(Action::Assign(None)));
        assert_eq!(
            Action::parse("status:closed", now),
            Ok(Action::Status(Status::Closed))
        );
        assert_eq!(Action::parse("tag_add:3", now), Ok(Action::AddTag(3)));
        assert_eq!(Action::parse("spam", now), Ok(Action::Spam));
        assert_eq!(Action::parse("merge", now), Ok(Action::Merge));
        assert_eq!(
            Action::parse("snooze:answer", now),
            Ok(Action::Snooze(Until::Answer))
        );
        for bad in [
            "",
            "assign:x",
            "status:gone",
            "status:spam",
            "tag_add:",
            "drop",
        ] {
            assert!(Action::parse(bad, now).is_err(), "{bad:?}");
        }
    }
}
