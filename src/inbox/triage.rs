//! Triage of a conversation: its status (open, pending, closed — closing records `closed_at`;
//! snoozed, src/inbox/snooze.rs; spam, src/inbox/spam.rs) and its assignee (a member of the
//! organization, or nobody).
//!
//! Forms of the conversation page: `POST /conversations/{id}/status` and
//! `POST /conversations/{id}/assignee`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use serde::Deserialize;

use super::queries;
use crate::db::InOrg;
use crate::db::entity::conversation;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Open,
    Pending,
    Closed,
    /// Out of the open folders until `snoozed_until`, or until the customer answers.
    Snoozed,
    /// Out of the inbox; kept by the retention category `spam`, counted from `closed_at`.
    Spam,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::Pending,
        Status::Snoozed,
        Status::Closed,
        Status::Spam,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Closed => "closed",
            Self::Snoozed => "snoozed",
            Self::Spam => "spam",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Self::Open => "status.open",
            Self::Pending => "status.pending",
            Self::Closed => "status.closed",
            Self::Snoozed => "status.snoozed",
            Self::Spam => "status.spam",
        }
    }

    /// The label key for a stored status string.
    pub fn key_of(value: &str) -> &'static str {
        Self::parse(value).unwrap_or(Self::Open).label_key()
    }
}

/// Sets the status; closing and marking as spam record when. Snoozing this way lasts until
/// the customer answers ([`snooze`] sets a time). False when the conversation is not this
/// organization's.
pub async fn set_status(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    status: Status,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    set_status_of(db, org, &[conversation_id], status, None, now)
        .await
        .map(|changed| changed > 0)
}

/// Snoozes until `until` (None: until the customer answers).
pub async fn snooze(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_ids: &[i64],
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    set_status_of(db, org, conversation_ids, Status::Snoozed, until, now).await
}

/// [`set_status`] for several conversations at once; the number changed. Any change of status
/// also ends a snooze and clears the "back from snooze" mark.
pub async fn set_status_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_ids: &[i64],
    status: Status,
    snoozed_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    let closed_at = matches!(status, Status::Closed | Status::Spam).then_some(now);
    let snoozed_until = snoozed_until.filter(|_| status == Status::Snoozed);
    let result = conversation::Entity::update_in(org)
        .col_expr(conversation::Column::Status, Expr::val(status.as_str()))
        .col_expr(conversation::Column::ClosedAt, Expr::val(closed_at))
        .col_expr(conversation::Column::SnoozedUntil, Expr::val(snoozed_until))
        .col_expr(
            conversation::Column::WokeAt,
            Expr::val(Option::<DateTime<Utc>>::None),
        )
        .filter(conversation::Column::Id.is_in(conversation_ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

/// Changes the status of a conversation agents may act on, with its webhook event in the same
/// transaction, and tells open pages (the conversation page's form and the API).
pub async fn apply_status(
    state: &AppState,
    org: OrgId,
    id: i64,
    status: Status,
) -> Result<(), AppError> {
    queries::changeable_conversation(&state.db, org, id).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    if !set_status(&txn, org, id, status, Utc::now()).await? {
        return Err(AppError::NotFound);
    }
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::ConversationStatusChanged {
            conversation_id: id,
        },
    )
    .await?;
    txn.commit().await?;
    queries::publish(state, org, id);
    Ok(())
}

pub async fn change_status(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    let status = Status::parse(&form.status).ok_or(AppError::BadRequest("status.invalid"))?;
    apply_status(&state, scope.org(), id, status).await?;
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.status_changed",
    ))
}

#[derive(Deserialize)]
pub struct AssigneeForm {
    /// A member's user id, or empty for nobody.
    assignee: String,
}

/// Checks that `user_id` is a member of the organization (only members can be assigned).
pub async fn member(db: &impl ConnectionTrait, org: OrgId, user_id: i64) -> Result<i64, AppError> {
    crate::orgs::queries::role_in(db, org.get(), user_id)
        .await?
        .ok_or(AppError::BadRequest("assignee.invalid"))?;
    Ok(user_id)
}

/// Assigns a conversation agents may act on to a member (checked with [`member`]) or nobody,
/// with its webhook event in the same transaction, and tells open pages; a new assignee
/// other than `actor` (the member doing it) gets a notification.
pub async fn apply_assignee(
    state: &AppState,
    org: OrgId,
    id: i64,
    assignee: Option<i64>,
    actor: i64,
) -> Result<(), AppError> {
    let before = queries::changeable_conversation(&state.db, org, id).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    conversation::Entity::update_in(org)
        .col_expr(conversation::Column::AssigneeId, Expr::val(assignee))
        .filter(conversation::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    crate::webhooks::emit(
        &txn,
        org,
        crate::webhooks::Event::ConversationAssigned {
            conversation_id: id,
        },
    )
    .await?;
    txn.commit().await?;
    queries::publish(state, org, id);
    if let Some(assignee) = assignee.filter(|a| before.assignee_id != Some(*a)) {
        super::notifications::assigned(state, org, &[id], assignee, actor).await;
    }
    Ok(())
}

pub async fn change_assignee(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<AssigneeForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    queries::changeable_conversation(&state.db, scope.org(), id).await?;
    let assignee = match form.assignee.trim() {
        "" => None,
        value => {
            let user_id: i64 = value
                .parse()
                .map_err(|_| AppError::BadRequest("assignee.invalid"))?;
            Some(member(&state.db, scope.org(), user_id).await?)
        }
    };
    apply_assignee(&state, scope.org(), id, assignee, scope.user_id()).await?;
    Ok(see_other_with_flash(
        &paths::CONVERSATION.at(id),
        "flash.assignee_changed",
    ))
}
