//! The privacy pages, for admins and owners: erasure (a confirmation page with the counts,
//! then the erasure), export (a ZIP download), the request register and deletion receipts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, Utc};
use sea_orm::{ColumnTrait, QueryFilter};
use serde::Deserialize;

use super::PrivacyError;
use super::erase::{self, Counts, Performer};
use super::export;
use super::requests::{self, Kind, NewRequest, Status};
use crate::db::InOrg;
use crate::db::entity::{deletion_receipt, privacy_request};
use crate::mail::EmailAddress;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::forms::{NoFields, non_empty};
use crate::web::page::{download, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, render};

#[derive(Template)]
#[template(path = "privacy/erase_confirm.html")]
struct EraseConfirmPage {
    page: Page,
    customer_id: i64,
    name: String,
    counts: Counts,
    /// Legal holds that block the erasure: when any, the page shows them and no button.
    holds: Vec<erase::Hold>,
}

impl EraseConfirmPage {
    /// The counts' rows with a stable name for each category (`data-category`).
    fn count_rows(&self) -> Vec<(&'static str, &'static str, u64)> {
        self.counts
            .rows()
            .into_iter()
            .map(|(key, n)| (key, key.trim_start_matches("privacy.count."), n))
            .collect()
    }
}

async fn erase_confirm_page(
    state: &AppState,
    scope: &TenantScope,
    customer_id: i64,
) -> Result<EraseConfirmPage, AppError> {
    let found = erase::find_customer(&state.db, scope.org(), customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let counts = erase::preview(&state.db, scope.org(), found.id).await?;
    let holds = erase::holds(&state.db, scope.org(), found.id).await?;
    Ok(EraseConfirmPage {
        page: Page::new(state, &scope.session, "inbox").await?,
        customer_id: found.id,
        name: found.display_name,
        counts,
        holds,
    })
}

/// `GET /customers/{id}/erase`: what erasing would remove, and the button that does it.
pub async fn erase_confirm(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render(&erase_confirm_page(&state, &scope, path.into_inner()).await?)
}

/// `POST /customers/{id}/erase`: erases, then shows the deletion receipt. A legal hold
/// refuses it: the confirmation page again, with the reason (409), and nothing changed.
pub async fn erase(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let customer_id = path.into_inner();
    let result = erase::erase(&state, scope.org(), customer_id, Performer::of(&scope)).await;
    let erasure = match result {
        Ok(erasure) => erasure,
        Err(PrivacyError::OnHold(_)) => {
            let page = erase_confirm_page(&state, &scope, customer_id).await?;
            return render_with_status(&page, StatusCode::CONFLICT);
        }
        Err(error) => return Err(error.into()),
    };
    let flash = if erasure.incomplete.is_empty() {
        "flash.privacy_erased"
    } else {
        "flash.privacy_erased_incomplete"
    };
    Ok(see_other_with_flash(
        &paths::PRIVACY_RECEIPT.at(erasure.receipt_id),
        flash,
    ))
}

#[derive(Deserialize)]
pub struct ExportForm {
    include_notes: Option<String>,
}

/// `POST /customers/{id}/export`: the customer's data as a ZIP download.
pub async fn export(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    form: CsrfForm<ExportForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let include_notes = form.0.include_notes.is_some();
    export::download(&state, &scope, path.into_inner(), include_notes).await
}

/// One row of the register.
struct RequestView {
    id: i64,
    reference: String,
    kind: String,
    kind_key: &'static str,
    received: String,
    due: String,
    overdue: bool,
    status_key: &'static str,
    customer_id: Option<i64>,
    note: String,
    completed: Option<String>,
    receipt_id: Option<i64>,
    /// Who closed the request: a member's name, or None (the command line, or a former user).
    handled_by: Option<String>,
}

impl RequestView {
    fn is_erasure(&self) -> bool {
        self.kind == Kind::Erasure.as_str()
    }
}

#[derive(Template)]
#[template(path = "privacy/requests.html")]
struct RequestsPage {
    page: Page,
    open: Vec<RequestView>,
    closed: Vec<RequestView>,
    kinds: [Kind; 5],
    today: String,
}

fn day(at: &chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// `GET /privacy/requests`: open requests by due date (overdue marked), then closed ones.
pub async fn requests(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let (open, closed) = requests::list(&state.db, scope.org()).await?;
    let closed_ids: Vec<i64> = closed.iter().map(|r| r.id).collect();
    let receipts: std::collections::BTreeMap<i64, i64> =
        deletion_receipt::Entity::find_in(scope.org())
            .filter(deletion_receipt::Column::RequestId.is_in(closed_ids))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|r| (r.request_id, r.id))
            .collect();
    let handlers = crate::inbox::queries::user_names(
        &state.db,
        closed.iter().filter_map(|r| r.handled_by).collect(),
    )
    .await?;
    let now = Utc::now();
    let view = |r: privacy_request::Model| RequestView {
        handled_by: r.handled_by.and_then(|id| handlers.get(&id).cloned()),
        id: r.id,
        kind_key: Kind::label_key_of(&r.kind),
        received: day(&r.received_at),
        due: day(&r.due_at),
        overdue: r.status == Status::Open.as_str() && r.due_at < now,
        status_key: Status::label_key_of(&r.status),
        customer_id: r.customer_id,
        completed: r.completed_at.as_ref().map(day),
        receipt_id: receipts.get(&r.id).copied(),
        kind: r.kind,
        reference: r.reference,
        note: r.note,
    };
    render(&RequestsPage {
        page: Page::new(&state, &scope.session, "privacy").await?,
        open: open.into_iter().map(view).collect(),
        closed: closed.into_iter().map(view).collect(),
        kinds: Kind::ALL,
        today: day(&now),
    })
}

#[derive(Deserialize)]
pub struct NewRequestForm {
    kind: String,
    received: Option<String>,
    customer_email: Option<String>,
    note: Option<String>,
}

/// `POST /privacy/requests`: records a request.
pub async fn create_request(
    state: web::Data<AppState>,
    scope: TenantScope,
    form: CsrfForm<NewRequestForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let form = form.0;
    let kind = Kind::parse(&form.kind).ok_or(AppError::BadRequest("privacy.bad_kind"))?;
    let today = Utc::now().date_naive();
    let received = match non_empty(&form.received) {
        None => today,
        Some(value) => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .filter(|d| *d <= today)
            .ok_or(AppError::BadRequest("privacy.bad_date"))?,
    };
    let customer_id = match non_empty(&form.customer_email) {
        None => None,
        Some(value) => {
            let email = EmailAddress::parse(value)
                .map_err(|_| AppError::BadRequest("privacy.unknown_customer"))?;
            Some(
                erase::customer_by_email(&state.db, scope.org(), &email)
                    .await?
                    .ok_or(AppError::BadRequest("privacy.unknown_customer"))?,
            )
        }
    };
    let note: String = non_empty(&form.note)
        .unwrap_or_default()
        .chars()
        .take(2000)
        .collect();
    let created = requests::create(
        &state.db,
        scope.org(),
        NewRequest {
            kind,
            received_at: requests::start_of_day(received),
            customer_id,
            note,
        },
    )
    .await?;
    scope
        .audit(
            &state,
            "privacy.request_recorded",
            created.reference,
            serde_json::json!({ "kind": kind.as_str() }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::PRIVACY_REQUESTS.path(),
        "flash.privacy_request_recorded",
    ))
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

/// `POST /privacy/requests/{id}/status`: closes an open request as completed or rejected.
/// An erasure request is completed only by erasing (from the customer's page).
pub async fn change_status(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    form: CsrfForm<StatusForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let request = requests::find(&state.db, scope.org(), path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    let status = match Status::parse(&form.0.status) {
        Some(Status::Rejected) => Status::Rejected,
        Some(Status::Completed) if request.kind != Kind::Erasure.as_str() => Status::Completed,
        _ => return Err(AppError::BadRequest("privacy.bad_status")),
    };
    if request.status != Status::Open.as_str() {
        return Err(AppError::BadRequest("privacy.bad_status"));
    }
    requests::close(
        &state.db,
        scope.org(),
        request.id,
        status,
        Some(scope.user_id()),
    )
    .await?;
    scope
        .audit(
            &state,
            "privacy.request_closed",
            request.reference,
            serde_json::json!({ "status": status.as_str() }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::PRIVACY_REQUESTS.path(),
        "flash.privacy_request_closed",
    ))
}

#[derive(Template)]
#[template(path = "privacy/receipt.html")]
struct ReceiptPage {
    page: Page,
    receipt: ReceiptJson,
    counts: Counts,
}

/// The receipt's JSON form: counts, dates, who, and the request reference — nothing of the
/// erased person.
#[derive(serde::Serialize)]
struct ReceiptJson {
    schema: &'static str,
    schema_version: u32,
    receipt_id: i64,
    organization: String,
    request_reference: String,
    request_kind: String,
    request_received_at: String,
    request_due_at: String,
    erased_at: String,
    performed_by: String,
    counts: Counts,
}

/// `GET /privacy/receipts/{id}` (a printable page) and `/privacy/receipts/{id}.json`.
pub async fn receipt(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let raw = path.into_inner();
    let (id, as_json) = match raw.strip_suffix(".json") {
        Some(id) => (id, true),
        None => (raw.as_str(), false),
    };
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let found = deletion_receipt::Entity::find_by_id_in(scope.org(), id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let request = requests::find(&state.db, scope.org(), found.request_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let counts: Counts = serde_json::from_str(&found.counts).map_err(AppError::internal)?;
    let receipt = ReceiptJson {
        schema: "lethe.deletion-receipt",
        schema_version: 1,
        receipt_id: found.id,
        organization: scope
            .session
            .org
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_default(),
        request_reference: request.reference,
        request_kind: request.kind,
        request_received_at: request.received_at.to_rfc3339(),
        request_due_at: request.due_at.to_rfc3339(),
        erased_at: found.created_at.to_rfc3339(),
        performed_by: found.performed_by,
        counts,
    };
    if as_json {
        let body = serde_json::to_string_pretty(&receipt).map_err(AppError::internal)?;
        let filename = format!("deletion-receipt-{}.json", found.id);
        return Ok(download("application/json", &filename).body(body));
    }
    render(&ReceiptPage {
        page: Page::new(&state, &scope.session, "privacy").await?,
        receipt,
        counts,
    })
}
