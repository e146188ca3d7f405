//! The privacy endpoints of the API: a customer's export and erasure (scope `privacy`) and the
//! register of data subject requests.
//!
//! - `GET  /api/v1/customers/{id}/export[?include_notes=true][&override_reason=…]` — the
//!   customer export ZIP;
//! - `POST /api/v1/customers/{id}/erase[?override_reason=…]` — erasure; refused (409) while on
//!   legal hold, and (409) while an open erasure request's requester is not verified unless
//!   an override reason is given (src/privacy/verify.rs), as for an export;
//! - `GET  /api/v1/privacy/requests` — the register: open (by due date) and closed;
//! - `POST /api/v1/privacy/requests` — records a request:
//!   `{"kind", "received"?: "YYYY-MM-DD", "customer_id"?, "customer_email"?, "note"?}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

use super::{audit, once};
use crate::api::auth::ApiCaller;
use crate::api::body::JsonBody;
use crate::api::idempotency::Resource;
use crate::api::scopes::Scope;
use crate::db::InOrg;
use crate::db::entity::conversation;
use crate::db::entity::privacy_request;
use crate::mail::EmailAddress;
use crate::orgs::OrgId;
use crate::privacy::erase::{self, Performer};
use crate::privacy::export;
use crate::privacy::requests::{self, Kind, NewRequest, Status};
use crate::state::AppState;
use crate::web::AppError;
use crate::web::paths;

const MAX_NOTE_CHARS: usize = 2000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `true` to include internal notes.
    include_notes: Option<String>,
    /// Why an open access request is fulfilled although its requester is not verified.
    override_reason: Option<String>,
}

/// `?override_reason=…` of an erasure (src/privacy/verify.rs).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EraseQuery {
    /// Why an open erasure request is fulfilled although its requester is not verified.
    override_reason: Option<String>,
}

fn truthy(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("true" | "1" | "yes"))
}

/// `GET /api/v1/customers/{id}/export` — `privacy.exported` in the audit log.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}/export",
    tag = "privacy",
    params(("id" = i64, Path, description = "The customer's id", example = 1), ExportQuery),
    responses((status = 200, description = "The export (ZIP)", content_type = "application/zip")),
    security(("api_key" = ["privacy"]))
)]
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

/// What an erasure removed.
#[derive(Serialize, ToSchema)]
pub struct ErasureJson {
    receipt_id: i64,
    receipt_url: String,
    request_reference: String,
    /// Rows and files removed, by kind.
    #[schema(value_type = Object)]
    counts: serde_json::Value,
    /// Steps after the commit that failed and are caught up later (`attachment_files`,
    /// `search_index`, `checkpoint`).
    incomplete: Vec<String>,
}

/// `POST /api/v1/customers/{id}/erase` — `privacy.erased` in the audit log, or
/// `api.erase_refused` and 409 with the hold's reason.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{id}/erase",
    tag = "privacy",
    params(
        ("id" = i64, Path, description = "The customer's id", example = 1),
        EraseQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated call")
    ),
    responses((status = 200, description = "Erased", body = ErasureJson)),
    security(("api_key" = ["privacy"]))
)]
pub async fn erase(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    query: web::Query<EraseQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Privacy)?;
    caller.scope.require_admin()?;
    let org = caller.scope.org();
    let customer_id = path.into_inner();
    let (state, caller, query) = (&state, &caller, &query);
    // A replay answers the receipt even though the customer is gone by then.
    once(state, caller, &req, &[], move || async move {
        if erase::find_customer(&state.db, org, customer_id)
            .await?
            .is_none()
        {
            return Err(AppError::NotFound);
        }
        if let Some(reason) = blocking_hold(state, org, customer_id).await? {
            audit(
                state,
                caller,
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
            state,
            &caller.scope,
            customer_id,
            crate::privacy::requests::Kind::Erasure,
            &query.override_reason,
        )
        .await?;
        let erasure = erase::erase(state, org, customer_id, Performer::of(&caller.scope)).await?;
        let receipt = ErasureJson {
            receipt_id: erasure.receipt_id,
            receipt_url: paths::PRIVACY_RECEIPT.at(erasure.receipt_id),
            request_reference: erasure.reference,
            counts: serde_json::to_value(erasure.counts).map_err(AppError::internal)?,
            incomplete: erasure.incomplete.iter().map(|s| (*s).to_owned()).collect(),
        };
        let body = serde_json::to_value(&receipt).map_err(AppError::internal)?;
        Ok((StatusCode::OK, Resource::Erasure { body }))
    })
    .await
}

/// A data subject request.
#[derive(Serialize, ToSchema)]
pub struct RequestJson {
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

/// The register: open requests by due date, then closed ones.
#[derive(Serialize, ToSchema)]
pub struct RequestList {
    open: Vec<RequestJson>,
    closed: Vec<RequestJson>,
}

/// `GET /api/v1/privacy/requests`
#[utoipa::path(
    get,
    path = "/api/v1/privacy/requests",
    tag = "privacy",
    responses((status = 200, description = "The register", body = RequestList)),
    security(("api_key" = ["read"]))
)]
pub async fn requests(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    caller.scope.require_admin()?;
    let (open, closed) = requests::list(&state.db, caller.scope.org()).await?;
    let now = Utc::now();
    let body = RequestList {
        open: open.into_iter().map(|r| request_json(r, now)).collect(),
        closed: closed.into_iter().map(|r| request_json(r, now)).collect(),
    };
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

/// A request to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    /// `access`, `erasure`, `rectification`, `restriction` or `objection`.
    kind: String,
    /// The day it was received (`YYYY-MM-DD`, default today).
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
#[utoipa::path(
    post,
    path = "/api/v1/privacy/requests",
    tag = "privacy",
    request_body = NewRequestBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated call")),
    responses((status = 201, description = "Recorded", body = RequestJson)),
    security(("api_key" = ["write"]))
)]
pub async fn create_request(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    caller.scope.require_admin()?;
    let (state, caller, body) = (&state, &caller, &body);
    once(state, caller, &req, body.bytes(), move || async move {
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
            state,
            caller,
            "privacy.request_recorded",
            created.reference.clone(),
            serde_json::json!({ "kind": valid.kind.as_str() }),
        )
        .await?;
        Ok((
            StatusCode::CREATED,
            Resource::PrivacyRequest { id: created.id },
        ))
    })
    .await
}

/// One request of the register as JSON.
pub(crate) async fn one_request(
    state: &AppState,
    org: OrgId,
    id: i64,
) -> Result<RequestJson, AppError> {
    let found = privacy_request::Entity::find_by_id_in(org, id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(request_json(found, Utc::now()))
}
