//! Restriction of processing (GDPR Art. 18): the customer's data is kept but frozen.
//!
//! While a customer is restricted, their conversations are left out of the inbox list and
//! the search results of agents (admins and owners still see them, marked), nobody can reply
//! or write notes on them ([`refuse_if_restricted`], checked by the handlers, not only by
//! hidden buttons), agents see a banner instead of the thread, and retention skips them like
//! legal hold. Inbound mail from the customer is still stored (an acknowledged email is never
//! lost) and lands frozen. Setting and lifting are for admins and audit-logged; setting
//! completes the customer's open restriction request (or records one).
//!
//! Form of the customer page: `POST /customers/{id}/restriction` (set or lift).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect};
use serde::Deserialize;

use super::requests::{self, Kind};
use crate::db::InOrg;
use crate::db::entity::{conversation, customer, message};
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::non_empty;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A restriction as the banners show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restriction {
    /// The day and time it was set (UTC, to the minute).
    pub since: String,
    pub since_iso: String,
    pub reason: String,
}

impl Restriction {
    /// The restriction of a customer record, if it is restricted.
    pub fn of(record: &customer::Model) -> Option<Self> {
        record
            .restricted_at
            .map(|at| Self::at(at, record.restriction_reason.as_deref()))
    }

    fn at(at: DateTime<Utc>, reason: Option<&str>) -> Self {
        Self {
            since: at.format("%Y-%m-%d %H:%M").to_string(),
            since_iso: at.to_rfc3339(),
            reason: reason.unwrap_or_default().to_owned(),
        }
    }
}

/// The restricted customers of `org` (usually none; index `ix_customers_restricted`).
pub async fn restricted_customer_ids(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    customer::Entity::find_in(org)
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::RestrictedAt.is_not_null())
        .into_tuple()
        .all(db)
        .await
}

/// The conversations of restricted customers of `org`: what agents' searches leave out.
pub async fn restricted_conversation_ids(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    let customers = restricted_customer_ids(db, org).await?;
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in customers.chunks(500) {
        out.extend(
            conversation::Entity::lookup_in(org)
                .select_only()
                .column(conversation::Column::Id)
                .filter(conversation::Column::CustomerId.is_in(chunk.iter().copied()))
                .into_tuple::<i64>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The restriction of a conversation's customer, if any.
pub async fn of_conversation(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<Option<Restriction>, sea_orm::DbErr> {
    let row: Option<(Option<DateTime<Utc>>, Option<String>)> = customer::Entity::lookup_in(org)
        .select_only()
        .column(customer::Column::RestrictedAt)
        .column(customer::Column::RestrictionReason)
        .filter(
            customer::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(conversation::Column::CustomerId)
                    .from(conversation::Entity)
                    .and_where(conversation::Column::Id.eq(conversation_id))
                    .and_where(conversation::Column::OrganizationId.eq(org))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .one(db)
        .await?;
    Ok(match row {
        Some((Some(at), reason)) => Some(Restriction::at(at, reason.as_deref())),
        _ => None,
    })
}

/// The restriction of the customer whose conversation holds the message, if any: for what
/// hangs off a message (its attachments, its outbox row).
pub async fn of_message(
    db: &impl ConnectionTrait,
    org: OrgId,
    message_id: i64,
) -> Result<Option<Restriction>, sea_orm::DbErr> {
    let conversation_id: Option<i64> = message::Entity::find_by_id_in(org, message_id)
        .select_only()
        .column(message::Column::ConversationId)
        .into_tuple()
        .one(db)
        .await?;
    match conversation_id {
        Some(id) => of_conversation(db, org, id).await,
        None => Ok(None),
    }
}

/// Refuses any processing of a restricted customer's conversation (replies, notes, resends,
/// changes of status, assignee and tags):
/// a 400 whose message says the processing is restricted.
pub async fn refuse_if_restricted(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<(), AppError> {
    match of_conversation(db, org, conversation_id).await? {
        Some(_) => Err(AppError::BadRequest("privacy.restrict.refused")),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
pub struct RestrictForm {
    reason: Option<String>,
    /// Present (any value) to lift the restriction.
    lift: Option<String>,
}

/// What the form asks for, checked.
enum Change {
    Set(String),
    Lift,
}

impl TryFrom<RestrictForm> for Change {
    type Error = AppError;

    fn try_from(form: RestrictForm) -> Result<Self, AppError> {
        if form.lift.is_some() {
            return Ok(Change::Lift);
        }
        match non_empty(&form.reason) {
            Some(reason) if reason.chars().count() <= MAX_REASON_CHARS => {
                Ok(Change::Set(reason.to_owned()))
            }
            Some(_) => Err(AppError::BadRequest("privacy.restrict.reason_too_long")),
            None => Err(AppError::BadRequest("privacy.restrict.reason_required")),
        }
    }
}

/// `POST /customers/{id}/restriction` (admins): `reason` to restrict, or `lift`.
pub async fn change(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<RestrictForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let change = Change::try_from(form)?;
    // The audit lock before the transaction: the entry commits with the change.
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    let record = crate::inbox::customers::find(&txn, org, path.into_inner()).await?;
    let (action, flash, details) = match change {
        Change::Set(reason) => {
            if record.restricted_at.is_some() {
                return Err(AppError::BadRequest("privacy.restrict.already"));
            }
            customer::Entity::update_in(org)
                .col_expr(
                    customer::Column::RestrictedAt,
                    Expr::value(Some(Utc::now())),
                )
                .col_expr(
                    customer::Column::RestrictionReason,
                    Expr::value(Some(reason)),
                )
                .filter(customer::Column::Id.eq(record.id))
                .exec(&txn)
                .await?;
            let request = requests::fulfil(
                &txn,
                org,
                record.id,
                Kind::Restriction,
                Some(scope.user_id()),
            )
            .await?;
            (
                "privacy.restricted",
                "flash.privacy_restricted",
                serde_json::json!({ "request": request.reference }),
            )
        }
        Change::Lift => {
            if record.restricted_at.is_none() {
                return Err(AppError::BadRequest("privacy.restrict.not_restricted"));
            }
            customer::Entity::update_in(org)
                .col_expr(
                    customer::Column::RestrictedAt,
                    Expr::value(None::<DateTime<Utc>>),
                )
                .col_expr(
                    customer::Column::RestrictionReason,
                    Expr::value(None::<String>),
                )
                .filter(customer::Column::Id.eq(record.id))
                .exec(&txn)
                .await?;
            (
                "privacy.restriction_lifted",
                "flash.privacy_restriction_lifted",
                serde_json::json!({}),
            )
        }
    };
    // The reason stays out of the audit log: it may describe the person's dispute.
    state
        .audit
        .record_holding(
            &audit_guard,
            &txn,
            scope.audit_entry(action, format!("customer:{}", record.id), details),
        )
        .await?;
    txn.commit().await?;
    drop(audit_guard);
    // A restricted customer's orders are not kept (src/assist/orders/cache.rs).
    state.orders.forget(org, record.id);
    Ok(see_other_with_flash(&paths::CUSTOMER.at(record.id), flash))
}
