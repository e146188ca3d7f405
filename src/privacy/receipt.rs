//! `/privacy/receipts/{id}` (admins and owners): a deletion receipt as a printable page, and
//! `/privacy/receipts/{id}.json` as its JSON form.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::erase::Counts;
use super::requests;
use crate::db::InOrg;
use crate::db::entity::deletion_receipt;
use crate::orgs::TenantScope;
use crate::state::AppState;
use crate::web::page::download;
use crate::web::{AppError, Page, render};

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
    /// When backups are configured: by when the last backup taken before the erasure (the
    /// last one that can hold the person) expires (`LETHE_BACKUP_KEEP_DAYS` after it).
    #[serde(skip_serializing_if = "Option::is_none")]
    backups_expire_by: Option<String>,
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
        backups_expire_by: state
            .config
            .backup
            .held_until(found.created_at)
            .map(|at| at.to_rfc3339()),
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
