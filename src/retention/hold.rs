//! Legal hold: an admin puts a conversation or a customer on hold with a reason; retention
//! (and erasure, which can ask [`customer_hold`]) skips it and says so. Setting and releasing
//! are audit-logged.
//!
//! Forms of the conversation and customer pages: `POST /conversations/{id}/legal-hold` and
//! `POST /customers/{id}/legal-hold` (set or release).

use actix_web::{HttpResponse, web};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use serde::Deserialize;

use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm, forms::non_empty};

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Deserialize)]
pub struct HoldForm {
    reason: Option<String>,
    /// Present (any value) to release the hold.
    release: Option<String>,
}

/// What the form asks for, checked.
enum HoldChange {
    Set(String),
    Release,
}

impl TryFrom<HoldForm> for HoldChange {
    type Error = AppError;

    fn try_from(form: HoldForm) -> Result<Self, AppError> {
        if form.release.is_some() {
            return Ok(HoldChange::Release);
        }
        match non_empty(&form.reason) {
            Some(reason) if reason.chars().count() <= MAX_REASON_CHARS => {
                Ok(HoldChange::Set(reason.to_owned()))
            }
            Some(_) => Err(AppError::BadRequest("retention.hold.reason_too_long")),
            None => Err(AppError::BadRequest("retention.hold.reason_required")),
        }
    }
}

#[derive(Clone, Copy)]
enum Target {
    Conversation,
    Customer,
}

impl Target {
    fn table(self) -> &'static str {
        match self {
            Target::Conversation => "conversations",
            Target::Customer => "customers",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Target::Conversation => "conversation",
            Target::Customer => "customer",
        }
    }
}

/// Sets or clears the hold of a row of `org`; false when the organization has no such row.
async fn set_hold(
    db: &impl ConnectionTrait,
    org: OrgId,
    target: Target,
    id: i64,
    reason: Option<&str>,
) -> Result<bool, sea_orm::DbErr> {
    let statement = Query::update()
        .table(Alias::new(target.table()))
        .value(Alias::new("legal_hold_reason"), reason.map(str::to_owned))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .and_where(Expr::col(Alias::new("organization_id")).eq(org.get()))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() > 0)
}

async fn hold_of(
    db: &impl ConnectionTrait,
    org: OrgId,
    table: &'static str,
    id: i64,
) -> Result<Option<String>, sea_orm::DbErr> {
    let statement = Query::select()
        .expr(Expr::col(Alias::new("legal_hold_reason")))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .and_where(Expr::col(Alias::new("organization_id")).eq(org.get()))
        .to_owned();
    let row = db.query_one(&statement).await?;
    match row {
        Some(row) => row.try_get::<Option<String>>("", "legal_hold_reason"),
        None => Ok(None),
    }
}

/// The reason a conversation of `org` is on legal hold, if it is.
pub async fn conversation_hold(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
) -> Result<Option<String>, sea_orm::DbErr> {
    hold_of(db, org, "conversations", conversation_id).await
}

/// Sets (or with `None` clears) the legal hold of a conversation of `org`, without an audit
/// entry: for a caller that logs its own change (a merge carries a hold over).
pub(crate) async fn set_conversation_hold(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    reason: Option<&str>,
) -> Result<bool, sea_orm::DbErr> {
    set_hold(db, org, Target::Conversation, conversation_id, reason).await
}

/// The reason a customer of `org` is on legal hold, if it is.
pub async fn customer_hold(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<Option<String>, sea_orm::DbErr> {
    hold_of(db, org, "customers", customer_id).await
}

/// What the conversation and customer pages show about legal hold, and the form to set or
/// lift it (`templates/retention/legal_hold.html`, included by both pages).
#[derive(Clone, Debug, Default)]
pub struct LegalHoldView {
    /// Where the form posts: `/conversations/{id}/legal-hold` or `/customers/{id}/legal-hold`.
    pub action: String,
    /// The hold's reason, when on hold.
    pub reason: Option<String>,
    /// On a conversation page: the customer, when the customer is on hold (by reason).
    pub customer_hold: Option<(i64, String)>,
    /// The catalog key of the text shown when not on hold.
    pub none_key: &'static str,
}

/// The legal hold block of a conversation page.
pub async fn conversation_view(
    db: &impl ConnectionTrait,
    org: OrgId,
    conversation_id: i64,
    customer_id: i64,
) -> Result<LegalHoldView, sea_orm::DbErr> {
    Ok(LegalHoldView {
        action: paths::CONVERSATION_LEGAL_HOLD.at(conversation_id),
        reason: conversation_hold(db, org, conversation_id).await?,
        customer_hold: customer_hold(db, org, customer_id)
            .await?
            .map(|reason| (customer_id, reason)),
        none_key: "retention.hold.none_conversation",
    })
}

/// The legal hold block of a customer page.
pub async fn customer_view(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
) -> Result<LegalHoldView, sea_orm::DbErr> {
    Ok(LegalHoldView {
        action: paths::CUSTOMER_LEGAL_HOLD.at(customer_id),
        reason: customer_hold(db, org, customer_id).await?,
        customer_hold: None,
        none_key: "retention.hold.none_customer",
    })
}

async fn change(
    state: &AppState,
    scope: &TenantScope,
    target: Target,
    id: i64,
    form: HoldForm,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let flash = flash(&form);
    let change = HoldChange::try_from(form)?;
    let reason = match &change {
        HoldChange::Set(reason) => Some(reason.as_str()),
        HoldChange::Release => None,
    };
    if !set_hold(&state.db, scope.org(), target, id, reason).await? {
        return Err(AppError::NotFound);
    }
    let action = match change {
        HoldChange::Set(_) => "legal_hold.set",
        HoldChange::Release => "legal_hold.released",
    };
    scope
        .audit(
            state,
            action,
            format!("{}:{id}", target.noun()),
            serde_json::json!({ "reason": reason }),
        )
        .await?;
    let page = match target {
        Target::Conversation => paths::CONVERSATION.at(id),
        Target::Customer => paths::CUSTOMER.at(id),
    };
    Ok(see_other_with_flash(&page, flash))
}

fn flash(form: &HoldForm) -> &'static str {
    if form.release.is_some() {
        "flash.legal_hold_released"
    } else {
        "flash.legal_hold_set"
    }
}

/// `POST /conversations/{id}/legal-hold` (admins): `reason`, or `release`.
pub async fn conversation(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<HoldForm>,
) -> Result<HttpResponse, AppError> {
    change(
        &state,
        &scope,
        Target::Conversation,
        path.into_inner(),
        form,
    )
    .await
}

/// `POST /customers/{id}/legal-hold` (admins): `reason`, or `release`.
pub async fn customer(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<HoldForm>,
) -> Result<HttpResponse, AppError> {
    change(&state, &scope, Target::Customer, path.into_inner(), form).await
}
