//! `/api/v1/…`: the JSON API, authenticated by an API key ([`ApiCaller`]). Every call is
//! audit-logged; errors are JSON through [`AppError`] (`{"error", "status"}`, plus `reason`
//! when a rule refuses the call).
//!
//! - `GET  /api/v1/customers?email=E` — the customer holding that address (0 or 1 result);
//! - `GET  /api/v1/customers/{id}/export[?include_notes=true][&override_reason=…]` — the
//!   customer export ZIP;
//! - `POST /api/v1/customers/{id}/erase[?override_reason=…]` — erasure; refused (409) while on
//!   legal hold, and (409) while an open erasure request's requester is not verified unless
//!   an override reason is given (src/privacy/verify.rs), as for an export;
//! - `GET  /api/v1/privacy/requests` — the register: open (by due date) and closed;
//! - `POST /api/v1/privacy/requests` — records a request:
//!   `{"kind", "received"?: "YYYY-MM-DD", "customer_id"?, "customer_email"?, "note"?}`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use super::auth::ApiCaller;
use super::body::JsonBody;
use super::scopes::Scope;
use crate::db::InOrg;
use crate::db::entity::privacy_request;
use crate::db::entity::{conversation, customer};
use crate::mail::EmailAddress;
use crate::orgs::OrgId;
use crate::privacy::erase::{self, Performer};
use crate::privacy::export;
use crate::privacy::requests::{self, Kind, NewRequest, Status};
use crate::state::AppState;
use crate::web::AppError;
use crate::web::paths;

const MAX_NOTE_CHARS: usize = 2000;

async fn audit(
    state: &AppState,
    caller: &ApiCaller,
    action: &'static str,
    target: String,
    details: serde_json::Value,
) -> Result<(), AppError> {
    state
        .audit
        .record(&state.db, caller.entry(action, target, details))
        .await?;
    Ok(())
}

#[derive(Serialize)]
struct CustomerJson {
    id: i64,
    display_name: String,
    created_at: DateTime<Utc>,
    email_addresses: Vec<String>,
    /// The reason, when the customer is on legal hold.
    legal_hold: Option<String>,
}

async fn customer_json(
    state: &AppState,
    org: OrgId,
    found: customer::Model,
) -> Result<CustomerJson, AppError> {
    let email_addresses = crate::inbox::customers::emails(&state.db, org, found.id)
        .await?
        .into_iter()
        .map(|address| address.email)
        .collect();
    Ok(CustomerJson {
        legal_hold: crate::retention::hold::customer_hold(&state.db, org, found.id).await?,
        id: found.id,
        display_name: found.display_name,
        created_at: found.created_at,
        email_addresses,
    })
}

#[derive(Deserialize)]
pub struct LookupQuery {
    email: Option<String>,
}

/// `GET /api/v1/customers?email=E`
pub async fn customers(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<LookupQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let email = query
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .ok_or(AppError::BadRequest("api.error.email_required"))?;
    let email =
        EmailAddress::parse(email).map_err(|_| AppError::BadRequest("api.error.email_invalid"))?;
    let org = caller.scope.org();
    let mut found = Vec::new();
    if let Some(id) = erase::customer_by_email(&state.db, org, &email).await?
        && let Some(row) = erase::find_customer(&state.db, org, id).await?
    {
        found.push(customer_json(&state, org, row).await?);
    }
    // The address looked up is personal data: the log records only how many matched.
    audit(
        &state,
        &caller,
        "api.customers_looked_up",
        "customers".to_owned(),
        serde_json::json!({ "matches": found.len() }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "customers": found })))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    include_notes: Option<String>,
    /// Why an open access request is fulfilled although its requester is not verified.
    override_reason: Option<String>,
}

/// `?override_reason=…` of an erasure (src/privacy/verify.rs).
#[derive(Deserialize)]
pub struct EraseQuery {
    override_reason: Option<String>,
}

fn truthy(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("true" | "1" | "yes"))
}

/// `GET /api/v1/customers/{id}/export` — `privacy.exported` in the audit log.
pub async fn export(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Privacy)?;
    caller.scope.require_admin()?;
    let include_notes = truthy(query.include_notes.as_deref());
    let customer_id = path.into_inner();
    if crate::privacy::erase::find_customer(&state.db, caller.scope.org(), customer_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    crate::privacy::verify::check_or_override(
        &state,
        &caller.scope,
        customer_id,
        crate::privacy::requests::Kind::Access,
        &query.override_reason,
    )
    .await?;
    export::download(&state, &caller.scope, customer_id, include_notes).await
}

/// The legal hold that blocks erasing the customer: their own, or one of their
/// conversations'.
async fn blocking_hold(
    state: &AppState,
    org: OrgId,
    customer_id: i64,
) -> Result<Option<String>, AppError> {
    use crate::retention::hold;
    if let Some(reason) = hold::customer_hold(&state.db, org, customer_id).await? {
        return Ok(Some(reason));
    }
    let conversations: Vec<i64> = conversation::Entity::find_in(org)
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::CustomerId.eq(customer_id))
        .into_tuple::<i64>()
        .all(&state.db)
        .await?;
    for id in conversations {
        if let Some(reason) = hold::conversation_hold(&state.db, org, id).await? {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

/// `POST /api/v1/customers/{id}/erase` — `privacy.erased` in the audit log, or
/// `api.erase_refused` and 409 with the hold's reason.
pub async fn erase(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<EraseQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Privacy)?;
    caller.scope.require_admin()?;
    let org = caller.scope.org();
    let customer_id = path.into_inner();
    if erase::find_customer(&state.db, org, customer_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    if let Some(reason) = blocking_hold(&state, org, customer_id).await? {
        audit(
            &state,
            &caller,
            "api.erase_refused",
            format!("customer:{customer_id}"),
            serde_json::json!({ "reason": "legal_hold" }),
        )
        .await?;
        return Err(AppError::Refused {
            key: "api.error.legal_hold",
            reason,
        });
    }
    crate::privacy::verify::check_or_override(
        &state,
        &caller.scope,
        customer_id,
        crate::privacy::requests::Kind::Erasure,
        &query.override_reason,
    )
    .await?;
    let erasure = erase::erase(&state, org, customer_id, Performer::of(&caller.scope)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "receipt_id": erasure.receipt_id,
        "receipt_url": paths::PRIVACY_RECEIPT.at(erasure.receipt_id),
        "request_reference": erasure.reference,
        "counts": erasure.counts,
        "incomplete": erasure.incomplete,
    })))
}

#[derive(Serialize)]
struct RequestJson {
    id: i64,
    reference: String,
    kind: String,
    status: String,
    received_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    overdue: bool,
    customer_id: Option<i64>,
    completed_at: Option<DateTime<Utc>>,
    note: String,
}

fn request_json(r: privacy_request::Model, now: DateTime<Utc>) -> RequestJson {
    RequestJson {
        overdue: r.status == Status::Open.as_str() && r.due_at < now,
        id: r.id,
        reference: r.reference,
        kind: r.kind,
        status: r.status,
        received_at: r.received_at,
        due_at: r.due_at,
        customer_id: r.customer_id,
        completed_at: r.completed_at,
        note: r.note,
    }
}

/// `GET /api/v1/privacy/requests`
pub async fn requests(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    caller.scope.require_admin()?;
    let (open, closed) = requests::list(&state.db, caller.scope.org()).await?;
    let now = Utc::now();
    let body = serde_json::json!({
        "open": open.into_iter().map(|r| request_json(r, now)).collect::<Vec<_>>(),
        "closed": closed.into_iter().map(|r| request_json(r, now)).collect::<Vec<_>>(),
    });
    audit(
        &state,
        &caller,
        "api.privacy_requests_listed",
        "privacy_requests".to_owned(),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    kind: String,
    received: Option<String>,
    customer_id: Option<i64>,
    customer_email: Option<String>,
    note: Option<String>,
}

/// A request body, checked.
struct ValidRequest {
    kind: Kind,
    received: NaiveDate,
    customer: Option<CustomerRef>,
    note: String,
}

enum CustomerRef {
    Id(i64),
    Email(EmailAddress),
}

impl TryFrom<NewRequestBody> for ValidRequest {
    type Error = AppError;

    fn try_from(body: NewRequestBody) -> Result<Self, AppError> {
        let kind = Kind::parse(&body.kind).ok_or(AppError::BadRequest("privacy.bad_kind"))?;
        let received = requests::received_on(&body.received)?;
        let email = body
            .customer_email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let customer = match (body.customer_id, email) {
            (Some(_), Some(_)) => return Err(AppError::BadRequest("api.error.one_customer")),
            (Some(id), None) => Some(CustomerRef::Id(id)),
            (None, Some(email)) => Some(CustomerRef::Email(
                EmailAddress::parse(email)
                    .map_err(|_| AppError::BadRequest("privacy.unknown_customer"))?,
            )),
            (None, None) => None,
        };
        let note = body.note.unwrap_or_default();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(AppError::BadRequest("api.error.note_too_long"));
        }
        Ok(ValidRequest {
            kind,
            received,
            customer,
            note: note.trim().to_owned(),
        })
    }
}

/// `POST /api/v1/privacy/requests` — `privacy.request_recorded` in the audit log; 201 with
/// the request.
pub async fn create_request(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    caller.scope.require_admin()?;
    let valid = ValidRequest::try_from(body.parse::<NewRequestBody>()?)?;
    let org = caller.scope.org();
    let customer_id = match valid.customer {
        None => None,
        Some(CustomerRef::Id(id)) => Some(
            erase::find_customer(&state.db, org, id)
                .await?
                .ok_or(AppError::BadRequest("privacy.unknown_customer"))?
                .id,
        ),
        Some(CustomerRef::Email(email)) => Some(
            erase::customer_by_email(&state.db, org, &email)
                .await?
                .ok_or(AppError::BadRequest("privacy.unknown_customer"))?,
        ),
    };
    let created = requests::create(
        &state.db,
        org,
        NewRequest {
            kind: valid.kind,
            received_at: requests::start_of_day(valid.received),
            customer_id,
            note: valid.note,
        },
    )
    .await?;
    audit(
        &state,
        &caller,
        "privacy.request_recorded",
        created.reference.clone(),
        serde_json::json!({ "kind": valid.kind.as_str() }),
    )
    .await?;
    Ok(HttpResponse::Created().json(request_json(created, Utc::now())))
}
