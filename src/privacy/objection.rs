//! Objection (GDPR Art. 21): recorded from the customer's page with the day it was made and
//! its text, as a request of the register (kind `objection`, the text as its note). The text
//! shows on the request in the register and on the customer's page; it is removed with the
//! customer when they are erased.
//!
//! Form of the customer page: `POST /customers/{id}/objections`.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::requests::{self, Kind, NewRequest};
use crate::db::InOrg;
use crate::db::entity::privacy_request;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::non_empty;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm};

/// The longest objection text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// An objection as the customer page lists it.
pub struct ObjectionView {
    pub reference: String,
    pub received: String,
    pub status_key: &'static str,
    pub text: String,
}

/// The customer's objections, newest first.
pub async fn of_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Vec<ObjectionView>, sea_orm::DbErr> {
    Ok(privacy_request::Entity::find_in(org)
        .filter(privacy_request::Column::CustomerId.eq(customer_id))
        .filter(privacy_request::Column::Kind.eq(Kind::Objection.as_str()))
        .order_by_desc(privacy_request::Column::ReceivedAt)
        .order_by_desc(privacy_request::Column::Id)
        .limit(100)
        .all(db)
        .await?
        .into_iter()
        .map(|r| ObjectionView {
            reference: r.reference,
            received: r.received_at.format("%Y-%m-%d").to_string(),
            status_key: requests::Status::label_key_of(&r.status),
            text: r.note,
        })
        .collect())
}

#[derive(Deserialize)]
pub struct ObjectionForm {
    received: Option<String>,
    text: Option<String>,
}

/// The checked form: the day (not in the future) and the text.
struct Objection {
    received: NaiveDate,
    text: String,
}

impl TryFrom<ObjectionForm> for Objection {
    type Error = AppError;

    fn try_from(form: ObjectionForm) -> Result<Self, AppError> {
        let received = super::requests::received_on(&form.received)?;
        let text =
            non_empty(&form.text).ok_or(AppError::BadRequest("privacy.objection.text_required"))?;
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(AppError::BadRequest("privacy.objection.text_too_long"));
        }
        Ok(Self {
            received,
            text: text.to_owned(),
        })
    }
}

/// `POST /customers/{id}/objections` (admins): records an objection (an open request).
pub async fn record(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<ObjectionForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let record = crate::inbox::customers::find(&state.db, org, path.into_inner()).await?;
    let objection = Objection::try_from(form)?;
    let created = requests::create(
        &state.db,
        org,
        NewRequest {
            kind: Kind::Objection,
            received_at: requests::start_of_day(objection.received),
            customer_id: Some(record.id),
            note: objection.text,
        },
    )
    .await?;
    scope
        .audit(
            &state,
            "privacy.request_recorded",
            created.reference,
            serde_json::json!({ "kind": Kind::Objection.as_str(), "customer": record.id }),
        )
        .await?;
    Ok(see_other_with_flash(
        &paths::CUSTOMER.at(record.id),
        "flash.privacy_objection_recorded",
    ))
}
