//! Merging two customer records of one organization (admins): the duplicate's conversations,
//! email addresses and privacy requests move to the kept record, which takes the duplicate's
//! phone and postal address only where it has none, and any objection in force on either
//! (the union of their effects); then the duplicate is deleted. A
//! confirmation page shows both records first; the merge is audit-logged (ids and counts, no
//! personal data). The search queue triggers re-index the moved conversations.
//!
//! Held and restricted records:
//! - the duplicate on legal hold: refused, since deleting it would drop its hold; merge the
//!   other way round (keep the held record) or release the hold first;
//! - the kept record on legal hold: allowed, and the page says that its hold then covers the
//!   moved conversations too; conversations on hold move with their own hold;
//! - either record restricted: refused, since merging is processing, which a restriction
//!   forbids; lift the restriction first.
//!
//! Page: `/customers/{id}/merge` (the confirmation, and its post that merges).

use actix_web::{HttpResponse, web};
use askama::Template;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter};
use serde::Deserialize;

use crate::db::InOrg;
use crate::db::entity::privacy_request;
use crate::db::entity::{conversation, customer, customer_email};
use crate::inbox::customers;
use crate::mail::EmailAddress;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::non_empty;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, render};

/// One side of the merge, as the confirmation page shows it.
pub struct Side {
    pub id: i64,
    pub name: String,
    pub emails: Vec<String>,
    pub conversations: u64,
    pub on_hold: bool,
    pub restricted: bool,
}

async fn side(
    db: &impl ConnectionTrait,
    org: OrgId,
    record: &customer::Model,
) -> Result<Side, sea_orm::DbErr> {
    Ok(Side {
        id: record.id,
        name: record.display_name.clone(),
        emails: customers::emails(db, org, record.id)
            .await?
            .into_iter()
            .map(|e| e.email)
            .collect(),
        conversations: conversation::Entity::find_in(org)
            .filter(conversation::Column::CustomerId.eq(record.id))
            .count(db)
            .await?,
        on_hold: crate::retention::hold::customer_hold(db, org, record.id)
            .await?
            .is_some(),
        restricted: record.restricted_at.is_some(),
    })
}

/// Why this merge cannot happen, as translation keys (none: it can).
fn blockers(kept: &Side, other: &Side) -> Vec<&'static str> {
    let mut out = Vec::new();
    if kept.id == other.id {
        out.push("privacy.merge.same");
    }
    if other.on_hold {
        out.push("privacy.merge.other_on_hold");
    }
    if kept.restricted || other.restricted {
        out.push("privacy.merge.restricted");
    }
    out
}

/// What a merge moved.
#[derive(Debug, Default, serde::Serialize)]
pub struct Merged {
    pub conversations: u64,
    pub email_addresses: u64,
    pub requests: u64,
}

/// Moves everything of `other` to `kept` and deletes `other`, inside the caller's
/// transaction; both must belong to `org` (checked by the caller). The merge is appended to
/// the erasure journal (`crate::backup::journal`), so a restored backup merges again (and an
/// erasure of `kept` then reaches what `other` held).
pub(crate) async fn merge(
    db: &impl ConnectionTrait,
    org: OrgId,
    kept: &customer::Model,
    other: &customer::Model,
    log: &crate::backup::Journal,
) -> Result<Merged, sea_orm::DbErr> {
    log.record_merge(org, other.id, kept.id)
        .await
        .map_err(|error| sea_orm::DbErr::Custom(error.to_string()))?;
    let conversations = conversation::Entity::update_in(org)
        .col_expr(conversation::Column::CustomerId, Expr::value(kept.id))
        .filter(conversation::Column::CustomerId.eq(other.id))
        .exec(db)
        .await?
        .rows_affected;
    let email_addresses = customer_email::Entity::update_in(org)
        .col_expr(customer_email::Column::CustomerId, Expr::value(kept.id))
        .filter(customer_email::Column::CustomerId.eq(other.id))
        .exec(db)
        .await?
        .rows_affected;
    let requests = privacy_request::Entity::update_in(org)
        .col_expr(privacy_request::Column::CustomerId, Expr::value(kept.id))
        .filter(privacy_request::Column::CustomerId.eq(other.id))
        .exec(db)
        .await?
        .rows_affected;
    // Queued and logged webhook deliveries follow the person too, so the kept customer's
    // restriction and erasure reach them.
    crate::db::entity::webhook_delivery::Entity::update_in(org)
        .col_expr(
            crate::db::entity::webhook_delivery::Column::CustomerId,
            Expr::value(kept.id),
        )
        .filter(crate::db::entity::webhook_delivery::Column::CustomerId.eq(other.id))
        .exec(db)
        .await?;
    crate::audit::access::move_customer(db, org, other.id, kept.id).await?;
    let mut fill = customer::Entity::update_in(org).filter(customer::Column::Id.eq(kept.id));
    let mut any = false;
    if kept.phone.is_none() && other.phone.is_some() {
        fill = fill.col_expr(customer::Column::Phone, Expr::value(other.phone.clone()));
        any = true;
    }
    if kept.postal_address.is_none() && other.postal_address.is_some() {
        fill = fill.col_expr(
            customer::Column::PostalAddress,
            Expr::value(other.postal_address.clone()),
        );
        any = true;
    }
    // An objection in force on either record stays in force on the kept one (Art. 21).
    let kept_effects = super::objection::Effects::of(kept);
    let other_effects = super::objection::Effects::of(other);
    if !other_effects.is_empty() {
        let since = match (kept.objection_since, other.objection_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        fill = fill
            .col_expr(
                customer::Column::ObjectionEffects,
                Expr::value(kept_effects.union(&other_effects).to_stored()),
            )
            .col_expr(customer::Column::ObjectionSince, Expr::value(since));
        any = true;
    }
    if any {
        fill.exec(db).await?;
    }
    customer::Entity::delete_in(org)
        .filter(customer::Column::Id.eq(other.id))
        .exec(db)
        .await?;
    Ok(Merged {
        conversations,
        email_addresses,
        requests,
    })
}

#[derive(Template)]
#[template(path = "privacy/merge_confirm.html")]
struct MergePage {
    page: Page,
    kept: Side,
    other: Side,
    blockers: Vec<&'static str>,
}

#[derive(Deserialize)]
pub struct MergeQuery {
    email: Option<String>,
}

/// `GET /customers/{id}/merge?email=E` (admins): the kept record (this one) and the record
/// holding address E, what moves, and the button — or why the merge cannot happen.
pub async fn confirm(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    query: web::Query<MergeQuery>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let kept = customers::find(&state.db, org, path.into_inner()).await?;
    let email = non_empty(&query.email)
        .and_then(|e| EmailAddress::parse(e).ok())
        .ok_or(AppError::BadRequest("privacy.merge.unknown_customer"))?;
    let other_id = super::erase::customer_by_email(&state.db, org, &email)
        .await?
        .ok_or(AppError::BadRequest("privacy.merge.unknown_customer"))?;
    let other = customers::find(&state.db, org, other_id).await?;
    let kept = side(&state.db, org, &kept).await?;
    let other = side(&state.db, org, &other).await?;
    render(&MergePage {
        page: Page::new(&state, &scope.session, "inbox").await?,
        blockers: blockers(&kept, &other),
        kept,
        other,
    })
}

#[derive(Deserialize)]
pub struct MergeForm {
    other: i64,
}

/// `POST /customers/{id}/merge` (admins): merges customer `other` into this one.
pub async fn apply(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<MergeForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let txn = crate::db::begin_write(&state.db).await?;
    let kept = customers::find(&txn, org, path.into_inner()).await?;
    let other = customers::find(&txn, org, form.other).await?;
    let sides = (
        side(&txn, org, &kept).await?,
        side(&txn, org, &other).await?,
    );
    if let Some(key) = blockers(&sides.0, &sides.1).first() {
        return Err(AppError::BadRequest(key));
    }
    let merged = merge(&txn, org, &kept, &other, &state.journal).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "privacy.merged",
            format!("customer:{}", kept.id),
            serde_json::json!({ "merged_customer": other.id, "moved": merged }),
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::CUSTOMER.at(kept.id),
        "flash.privacy_merged",
    ))
}
