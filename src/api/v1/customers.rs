//! `/api/v1/customers`: the lookup by address, one customer, creating one, and rectification
//! (`PATCH`, admins' keys only): the same correction as the customer page's form
//! (`privacy::rectify::correct`), audit-logged as `privacy.rectified` with the changed
//! fields' names, carried into the customer's conversations, the search index and the
//! open rectification request.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{audit, once};
use crate::api::auth::ApiCaller;
use crate::api::body::JsonBody;
use crate::api::idempotency::Resource;
use crate::api::scopes::Scope;
use crate::db::entity::customer;
use crate::inbox::customers::{self, CustomerName, NewCustomer, PhoneNumber, PostalAddress};
use crate::mail::EmailAddress;
use crate::orgs::OrgId;
use crate::privacy::erase;
use crate::privacy::rectify::{self, Corrected, Rectification};
use crate::state::AppState;
use crate::web::AppError;

/// A customer.
#[derive(Serialize, ToSchema)]
pub struct CustomerJson {
    pub id: i64,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    /// Oldest first: replies go to the first.
    pub email_addresses: Vec<String>,
    pub phone: Option<String>,
    pub postal_address: Option<String>,
    /// The reason, when the customer is on legal hold.
    pub legal_hold: Option<String>,
    /// The customer's processing is restricted: their conversations are frozen.
    pub restricted: bool,
}

pub(crate) async fn customer_json(
    state: &AppState,
    org: OrgId,
    found: customer::Model,
) -> Result<CustomerJson, AppError> {
    let email_addresses = customers::emails(&state.db, org, found.id)
        .await?
        .into_iter()
        .map(|address| address.email)
        .collect();
    Ok(CustomerJson {
        legal_hold: crate::retention::hold::customer_hold(&state.db, org, found.id).await?,
        restricted: found.restricted_at.is_some(),
        id: found.id,
        display_name: found.display_name,
        created_at: found.created_at,
        phone: found.phone,
        postal_address: found.postal_address,
        email_addresses,
    })
}

/// The customers found.
#[derive(Serialize, ToSchema)]
pub struct CustomerList {
    pub customers: Vec<CustomerJson>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// The address to look up (required).
    #[param(format = Email)]
    email: Option<String>,
}

/// `GET /api/v1/customers?email=E` — the customer holding that address (0 or 1 result);
/// `api.customers_looked_up` with the number of matches, never the address.
#[utoipa::path(
    get,
    path = "/api/v1/customers",
    tag = "customers",
    params(LookupQuery),
    responses((status = 200, description = "The customer holding the address, if any", body = CustomerList)),
    security(("api_key" = ["read"]))
)]
pub async fn lookup(
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
    Ok(HttpResponse::Ok().json(CustomerList { customers: found }))
}

/// `GET /api/v1/customers/{id}` — `api.customer_read`.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = i64, Path, description = "The customer's id", example = 1)),
    responses((status = 200, description = "The customer", body = CustomerJson)),
    security(("api_key" = ["read"]))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Read)?;
    let org = caller.scope.org();
    let id = path.into_inner();
    let found = customers::find(&state.db, org, id).await?;
    let body = customer_json(&state, org, found).await?;
    state.access.opened(
        &caller.scope,
        crate::audit::access::Kind::Customer,
        Some(id),
        None,
    );
    audit(
        &state,
        &caller,
        "api.customer_read",
        format!("customer:{id}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// A customer to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerBody {
    #[schema(min_length = 1, max_length = 200)]
    display_name: String,
    #[schema(format = Email)]
    email: String,
    phone: Option<String>,
    /// Up to 6 lines.
    postal_address: Option<String>,
}

impl TryFrom<NewCustomerBody> for NewCustomer {
    type Error = AppError;

    fn try_from(body: NewCustomerBody) -> Result<Self, AppError> {
        let bad = |e: customers::RecordError| AppError::BadRequest(e.key());
        Ok(Self {
            name: CustomerName::parse(&body.display_name).map_err(bad)?,
            email: EmailAddress::parse(&body.email)
                .map_err(|_| AppError::BadRequest("api.error.email_invalid"))?,
            phone: match body.phone.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(phone) => Some(PhoneNumber::parse(phone).map_err(bad)?),
            },
            postal_address: body
                .postal_address
                .as_deref()
                .map(PostalAddress::parse)
                .transpose()
                .map_err(bad)?,
        })
    }
}

/// `POST /api/v1/customers` — `api.customer_created`; 201 with the customer, 409 when
/// another customer holds the address.
#[utoipa::path(
    post,
    path = "/api/v1/customers",
    tag = "customers",
    request_body = NewCustomerBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated call")),
    responses((status = 201, description = "Created", body = CustomerJson)),
    security(("api_key" = ["write"]))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    let (state, caller, body) = (&state, &caller, &body);
    once(state, caller, &req, body.bytes(), move || async move {
        let new = NewCustomer::try_from(body.parse::<NewCustomerBody>()?)?;
        let org = caller.scope.org();
        let created = customers::create(&state.db, org, new, Utc::now())
            .await?
            .ok_or(AppError::Refused {
                key: "api.error.customer_exists",
                reason: String::new(),
            })?;
        audit(
            state,
            caller,
            "api.customer_created",
            format!("customer:{}", created.id),
            serde_json::json!({}),
        )
        .await?;
        Ok((StatusCode::CREATED, Resource::Customer { id: created.id }))
    })
    .await
}

/// A correction of the record (rectification). Omitted fields keep their value; an empty
/// `phone` or `postal_address` clears it; `email_addresses` is the whole new list (at
/// least one; at most one address that is neither kept nor replaces a removed one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectifyBody {
    display_name: Option<String>,
    phone: Option<String>,
    postal_address: Option<String>,
    email_addresses: Option<Vec<String>>,
}

/// The form the customer page would send for this body, against the stored record.
fn rectification(
    record: &customer::Model,
    stored: &[crate::db::entity::customer_email::Model],
    body: RectifyBody,
) -> Result<Rectification, AppError> {
    let mut fields: Vec<(String, String)> = vec![
        (
            "name".into(),
            body.display_name
                .unwrap_or_else(|| record.display_name.clone()),
        ),
        (
            "phone".into(),
            body.phone
                .unwrap_or_else(|| record.phone.clone().unwrap_or_default()),
        ),
        (
            "postal_address".into(),
            body.postal_address
                .unwrap_or_else(|| record.postal_address.clone().unwrap_or_default()),
        ),
    ];
    if let Some(wanted) = body.email_addresses {
        let wanted: Vec<EmailAddress> = super::conversations::addresses(&wanted)?;
        let kept = |email: &str| wanted.iter().any(|w| w.as_str() == email);
        // New addresses first replace removed rows, then one may be added.
        let mut fresh = wanted
            .iter()
            .filter(|w| stored.iter().all(|row| row.email != w.as_str()));
        for row in stored.iter().filter(|row| !kept(&row.email)) {
            match fresh.next() {
                Some(new) => fields.push((format!("email.{}", row.id), new.as_str().to_owned())),
                None => {
                    fields.push((format!("email.{}", row.id), row.email.clone()));
                    fields.push((format!("remove.{}", row.id), "1".into()));
                }
            }
        }
        if let Some(added) = fresh.next() {
            fields.push(("new_email".into(), added.as_str().to_owned()));
        }
        if fresh.next().is_some() {
            return Err(AppError::BadRequest("api.error.one_new_address"));
        }
    }
    Rectification::try_from(fields).map_err(AppError::BadRequest)
}

/// `PATCH /api/v1/customers/{id}` — rectification: `privacy.rectified` in the audit log
/// (the changed fields' names); 200 with the customer.
#[utoipa::path(
    patch,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = i64, Path, description = "The customer's id", example = 1)),
    request_body = RectifyBody,
    responses((status = 200, description = "The customer, corrected", body = CustomerJson)),
    security(("api_key" = ["write"]))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Scope::Write)?;
    caller.scope.require_admin()?;
    let org = caller.scope.org();
    let record = customers::find(&state.db, org, path.into_inner()).await?;
    let body: RectifyBody = body.parse()?;
    let stored = customers::emails(&state.db, org, record.id).await?;
    let form = rectification(&record, &stored, body)?;
    let target = format!("customer:{}", record.id);
    let outcome = rectify::correct(&state, &caller.scope, &record, form, |details| {
        caller.entry("privacy.rectified", target, details)
    })
    .await?;
    match outcome {
        Corrected::Refused(key) => return Err(AppError::BadRequest(key)),
        // Nothing changed, so `correct` wrote no entry: the call is logged all the same.
        Corrected::Unchanged => {
            audit(
                &state,
                &caller,
                "api.rectify_unchanged",
                format!("customer:{}", record.id),
                serde_json::json!({}),
            )
            .await?;
        }
        Corrected::Fields(_) => {}
    }
    let fresh = customers::find(&state.db, org, record.id).await?;
    Ok(HttpResponse::Ok().json(customer_json(&state, org, fresh).await?))
}
