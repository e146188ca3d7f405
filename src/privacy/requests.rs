//! The register of data subject requests: what was asked (access, erasure, rectification,
//! restriction, objection), when it arrived, when it is due (one month later, GDPR Art. 12(3)),
//! its status and who handled it.
//!
//! Page: `/privacy/requests` (admins and owners): open requests by due date, then closed ones,
//! with its forms: `POST /privacy/requests` records one, `POST /privacy/requests/{id}/status`
//! closes one.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::Deserialize;

use super::erase;
use crate::db::InOrg;
use crate::db::entity::{customer_email, deletion_receipt, privacy_request};
use crate::mail::EmailAddress;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::non_empty;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, render};

/// What the data subject asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Access,
    Erasure,
    Rectification,
    Restriction,
    Objection,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Access,
        Kind::Erasure,
        Kind::Rectification,
        Kind::Restriction,
        Kind::Objection,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Erasure => "erasure",
            Kind::Rectification => "rectification",
            Kind::Restriction => "restriction",
            Kind::Objection => "objection",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Kind::Access => "privacy.kind.access",
            Kind::Erasure => "privacy.kind.erasure",
            Kind::Rectification => "privacy.kind.rectification",
            Kind::Restriction => "privacy.kind.restriction",
            Kind::Objection => "privacy.kind.objection",
        }
    }

    /// The label key of a stored kind (an unknown value shows as itself would be a bug).
    pub fn label_key_of(stored: &str) -> &'static str {
        Self::parse(stored).map_or("privacy.kind.unknown", Kind::label_key)
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Open,
    Completed,
    Rejected,
}

impl Status {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "open" => Some(Status::Open),
            "completed" => Some(Status::Completed),
            "rejected" => Some(Status::Rejected),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Completed => "completed",
            Status::Rejected => "rejected",
        }
    }

    pub fn label_key_of(stored: &str) -> &'static str {
        match Self::parse(stored) {
            Some(Status::Open) => "privacy.status.open",
            Some(Status::Completed) => "privacy.status.completed",
            Some(Status::Rejected) => "privacy.status.rejected",
            None => "privacy.kind.unknown",
        }
    }
}

/// The deadline: one calendar month after the request arrived.
pub fn due_date(received_at: DateTime<Utc>) -> DateTime<Utc> {
    received_at
        .checked_add_months(Months::new(1))
        .unwrap_or(received_at + chrono::Duration::days(31))
}

/// Midnight UTC of a calendar day (the register's received dates are days).
pub fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// A random reference such as `DSR-7F3A9C21`: what the receipt and the audit log name instead
/// of the person.
pub fn new_reference() -> String {
    let random = crate::crypto::sha256_hex(&crate::crypto::random_token());
    format!("DSR-{}", random[..8].to_ascii_uppercase())
}

/// A request to record.
pub struct NewRequest {
    pub kind: Kind,
    pub received_at: DateTime<Utc>,
    pub customer_id: Option<i64>,
    pub note: String,
}

/// Records a request (status open) and returns it.
pub async fn create(
    db: &impl ConnectionTrait,
    org: OrgId,
    new: NewRequest,
) -> Result<privacy_request::Model, DbErr> {
    let row = privacy_request::ActiveModel {
        organization_id: Set(org),
        kind: Set(new.kind.as_str().to_owned()),
        reference: Set(new_reference()),
        customer_id: Set(new.customer_id),
        received_at: Set(new.received_at),
        due_at: Set(due_date(new.received_at)),
        status: Set(Status::Open.as_str().to_owned()),
        handled_by: Set(None),
        completed_at: Set(None),
        note: Set(new.note),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::webhooks::emit(
        db,
        org,
        crate::webhooks::Event::PrivacyRequestCreated {
            request_id: row.id,
            kind: row.kind.clone(),
            customer_id: row.customer_id,
            due_at: row.due_at,
        },
    )
    .await?;
    Ok(row)
}

/// One request of the organization.
pub async fn find(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
) -> Result<Option<privacy_request::Model>, DbErr> {
    privacy_request::Entity::find_by_id_in(org, id)
        .one(db)
        .await
}

/// The oldest open request of this kind about this customer, else a new one received now:
/// what an export or erasure from the customer page completes.
pub async fn open_or_create(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    kind: Kind,
) -> Result<privacy_request::Model, DbErr> {
    let open = privacy_request::Entity::find_in(org)
        .filter(privacy_request::Column::CustomerId.eq(customer_id))
        .filter(privacy_request::Column::Kind.eq(kind.as_str()))
        .filter(privacy_request::Column::Status.eq(Status::Open.as_str()))
        .order_by_asc(privacy_request::Column::DueAt)
        .order_by_asc(privacy_request::Column::Id)
        .limit(1)
        .one(db)
        .await?;
    match open {
        Some(request) => Ok(request),
        None => {
            create(
                db,
                org,
                NewRequest {
                    kind,
                    received_at: Utc::now(),
                    customer_id: Some(customer_id),
                    note: String::new(),
                },
            )
            .await
        }
    }
}

/// The day a request or objection reached the shop, from a form's `YYYY-MM-DD` field: today
/// when empty, never in the future.
pub fn received_on(value: &Option<String>) -> Result<NaiveDate, AppError> {
    let today = Utc::now().date_naive();
    match non_empty(value) {
        None => Ok(today),
        Some(value) => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .filter(|d| *d <= today)
            .ok_or(AppError::BadRequest("privacy.bad_date")),
    }
}

/// Records the customer's request of `kind` as fulfilled now by `handled_by`: the open one,
/// or a new one when none is open (an action taken without a request on file).
pub async fn fulfil(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    kind: Kind,
    handled_by: Option<i64>,
) -> Result<privacy_request::Model, DbErr> {
    let request = open_or_create(db, org, customer_id, kind).await?;
    close(db, org, request.id, Status::Completed, handled_by).await?;
    Ok(request)
}

/// Records `request` as verified now (the requester proved to be the person: by the link, or
/// by holding a chat visitor's id), spends its link and writes `privacy.request_verified` to
/// the audit log, in the caller's transaction under its audit guard. Once: a request verified
/// already changes nothing and logs nothing.
pub async fn verify<C>(
    state: &AppState,
    guard: &crate::audit::AuditGuard<'_>,
    txn: &C,
    request: &privacy_request::Model,
    actor: crate::audit::Actor,
    client: Option<&crate::web::client::ClientInfo>,
) -> Result<(), DbErr>
where
    C: ConnectionTrait + sea_orm::TransactionTrait,
{
    let org = request.organization_id;
    if !mark_verified(txn, org, request.id).await? {
        return Ok(());
    }
    state
        .audit
        .record_holding(
            guard,
            txn,
            crate::audit::Entry {
                org: Some(org),
                actor,
                action: "privacy.request_verified",
                target: request.reference.clone(),
                client,
                details: serde_json::json!({ "kind": request.kind }),
            },
        )
        .await
}

/// Records request `id` as verified now and spends its verification link. False when it was
/// verified already (a link is spent only once).
async fn mark_verified(db: &impl ConnectionTrait, org: OrgId, id: i64) -> Result<bool, DbErr> {
    let spent = privacy_request::Entity::update_in(org)
        .col_expr(
            privacy_request::Column::VerifiedAt,
            Expr::value(Some(Utc::now())),
        )
        .col_expr(
            privacy_request::Column::VerificationTokenHash,
            Expr::value(None::<String>),
        )
        .filter(privacy_request::Column::Id.eq(id))
        .filter(privacy_request::Column::VerifiedAt.is_null())
        .exec(db)
        .await?;
    Ok(spent.rows_affected == 1)
}

/// Closes a request as completed or rejected.
pub async fn close(
    db: &impl ConnectionTrait,
    org: OrgId,
    id: i64,
    status: Status,
    handled_by: Option<i64>,
) -> Result<(), DbErr> {
    privacy_request::Entity::update_in(org)
        .col_expr(
            privacy_request::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(privacy_request::Column::HandledBy, Expr::value(handled_by))
        .col_expr(
            privacy_request::Column::CompletedAt,
            Expr::value(Some(Utc::now())),
        )
        // A closed request needs no verification link any more.
        .col_expr(
            privacy_request::Column::VerificationTokenHash,
            Expr::value(None::<String>),
        )
        .filter(privacy_request::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Before a customer is erased: the requests about them forget them — the link, and the
/// details [`forget_details`] clears; the kind, dates, status, reference and whether it was
/// verified or overridden stay.
pub async fn forget_customer(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<(), DbErr> {
    forget_details(db, org, &[customer_id]).await?;
    privacy_request::Entity::update_in(org)
        .col_expr(
            privacy_request::Column::CustomerId,
            Expr::value(None::<i64>),
        )
        .filter(privacy_request::Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// When customers are erased or anonymized: their requests lose any note and any override
/// reason (either may name the person), which address a verification link went to, and the
/// link itself.
pub async fn forget_details(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_ids: &[i64],
) -> Result<(), DbErr> {
    if customer_ids.is_empty() {
        return Ok(());
    }
    privacy_request::Entity::update_in(org)
        .col_expr(privacy_request::Column::Note, Expr::value(""))
        .col_expr(
            privacy_request::Column::OverrideReason,
            Expr::cust("CASE WHEN override_reason IS NULL THEN NULL ELSE '' END"),
        )
        .col_expr(
            privacy_request::Column::VerificationEmailId,
            Expr::value(None::<i64>),
        )
        .col_expr(
            privacy_request::Column::VerificationTokenHash,
            Expr::value(None::<String>),
        )
        .filter(privacy_request::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// The register: open requests by due date (soonest first), then the latest closed ones.
pub async fn list(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<(Vec<privacy_request::Model>, Vec<privacy_request::Model>), DbErr> {
    let open = privacy_request::Entity::find_in(org)
        .filter(privacy_request::Column::Status.eq(Status::Open.as_str()))
        .order_by_asc(privacy_request::Column::DueAt)
        .order_by_asc(privacy_request::Column::Id)
        .limit(1000)
        .all(db)
        .await?;
    let closed = privacy_request::Entity::find_in(org)
        .filter(privacy_request::Column::Status.ne(Status::Open.as_str()))
        .order_by_desc(privacy_request::Column::CompletedAt)
        .order_by_desc(privacy_request::Column::Id)
        .limit(200)
        .all(db)
        .await?;
    Ok((open, closed))
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
    /// Whether the requester was verified (src/privacy/verify.rs).
    verification: super::verify::Verification,
    /// An objection's chosen effects (catalog keys).
    effects: Vec<&'static str>,
    /// The customer record's addresses (row id, address) a verification link can go to.
    addresses: Vec<(i64, String)>,
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
    let (open, closed) = list(&state.db, scope.org()).await?;
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
    let mut addresses: std::collections::BTreeMap<i64, Vec<(i64, String)>> =
        std::collections::BTreeMap::new();
    let open_customers: Vec<i64> = open.iter().filter_map(|r| r.customer_id).collect();
    for row in customer_email::Entity::lookup_in(scope.org())
        .filter(customer_email::Column::CustomerId.is_in(open_customers))
        .order_by_asc(customer_email::Column::Id)
        .all(&state.db)
        .await?
    {
        addresses
            .entry(row.customer_id)
            .or_default()
            .push((row.id, row.email));
    }
    let view = |r: privacy_request::Model| RequestView {
        verification: super::verify::Verification::of(&r),
        effects: super::objection::Effects::from_stored(r.effects.as_deref()).label_keys(),
        addresses: r
            .customer_id
            .filter(|_| r.status == Status::Open.as_str())
            .and_then(|id| addresses.get(&id).cloned())
            .unwrap_or_default(),
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
    let received = received_on(&form.received)?;
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
    let created = create(
        &state.db,
        scope.org(),
        NewRequest {
            kind,
            received_at: start_of_day(received),
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
    let request = find(&state.db, scope.org(), path.into_inner())
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
    close(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_due_one_calendar_month_after_it_arrived() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 9, 30, 0).unwrap();
        assert_eq!(due_date(at(2026, 3, 15)), at(2026, 4, 15));
        assert_eq!(due_date(at(2026, 1, 31)), at(2026, 2, 28));
        assert_eq!(due_date(at(2026, 12, 20)), at(2027, 1, 20));
    }

    #[test]
    fn references_are_random_and_shaped_like_dsr_hex() {
        let a = new_reference();
        let b = new_reference();
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.starts_with("DSR-"));
        assert!(a[4..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
