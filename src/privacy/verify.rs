//! Verified requesters: before a request is fulfilled, an admin can have Lethe send a one-time
//! link to an address **already on the customer record** (the form offers the record's address
//! rows, never a free field, so a link cannot be sent to a new address). The requester opens
//! it and confirms; the request records when. Exporting or erasing for an open request that
//! is not verified asks for an explicit override with a reason, recorded on the request and
//! audit-logged. The register shows each request as verified, not verified or overridden.
//!
//! An action taken with no request on file (the organization's own initiative) has no
//! requester to verify. The command line (`lethe privacy export`, `lethe privacy erase --yes`)
//! is the operator's and is not asked.
//!
//! Pages and forms: `POST /privacy/requests/{id}/verification` (admins) sends the link;
//! `GET`/`POST /privacy/verify/{token}` (no sign-in) shows and confirms it.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;

use super::requests::{Kind, Status};
use crate::audit::Actor;
use crate::crypto::{random_token, sha256_hex};
use crate::db::InOrg;
use crate::db::entity::{customer_email, privacy_request};
use crate::mail::EmailAddress;
use crate::orgs::{OrgId, TenantScope};
use crate::state::AppState;
use crate::web::forms::{NoFields, non_empty};
use crate::web::page::see_other_with_flash;
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page, Visitor, render};

/// How long a verification link stays valid.
pub const VALID_FOR_DAYS: i64 = 7;
/// The longest override reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Where a request stands with its requester's verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    NotVerified,
    /// A link was sent (on this day) and not confirmed yet.
    Sent(String),
    Verified(String),
    Overridden {
        on: String,
        reason: String,
    },
}

impl Verification {
    pub fn of(r: &privacy_request::Model) -> Self {
        let day = |at: &chrono::DateTime<Utc>| at.format("%Y-%m-%d").to_string();
        if let Some(at) = &r.verified_at {
            Verification::Verified(day(at))
        } else if let Some(at) = &r.overridden_at {
            Verification::Overridden {
                on: day(at),
                reason: r.override_reason.clone().unwrap_or_default(),
            }
        } else if let Some(at) = &r.verification_sent_at {
            Verification::Sent(day(at))
        } else {
            Verification::NotVerified
        }
    }

    /// A stable name (the register's `data-verification`).
    pub fn name(&self) -> &'static str {
        match self {
            Verification::NotVerified => "not_verified",
            Verification::Sent(_) => "sent",
            Verification::Verified(_) => "verified",
            Verification::Overridden { .. } => "overridden",
        }
    }

    pub fn label_key(&self) -> &'static str {
        match self {
            Verification::NotVerified => "privacy.verify.state.not_verified",
            Verification::Sent(_) => "privacy.verify.state.sent",
            Verification::Verified(_) => "privacy.verify.state.verified",
            Verification::Overridden { .. } => "privacy.verify.state.overridden",
        }
    }

    /// The day it was sent, verified or overridden.
    pub fn day(&self) -> &str {
        match self {
            Verification::NotVerified => "",
            Verification::Sent(day) | Verification::Verified(day) => day,
            Verification::Overridden { on, .. } => on,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Verification::Overridden { reason, .. } => reason,
            _ => "",
        }
    }

    /// May the request be fulfilled without an override?
    pub fn allows_fulfilment(&self) -> bool {
        matches!(
            self,
            Verification::Verified(_) | Verification::Overridden { .. }
        )
    }
}

/// The open request of `kind` about the customer that an export or erasure would fulfil (the
/// oldest, as `requests::open_or_create` takes it), if any.
pub async fn open_request(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    kind: Kind,
) -> Result<Option<privacy_request::Model>, sea_orm::DbErr> {
    privacy_request::Entity::find_in(org)
        .filter(privacy_request::Column::CustomerId.eq(customer_id))
        .filter(privacy_request::Column::Kind.eq(kind.as_str()))
        .filter(privacy_request::Column::Status.eq(Status::Open.as_str()))
        .order_by_asc(privacy_request::Column::DueAt)
        .order_by_asc(privacy_request::Column::Id)
        .one(db)
        .await
}

/// Does an export (`Kind::Access`) or erasure for this customer need an override now: an open
/// request on file whose requester is not verified (and not already overridden)?
pub async fn needs_override(
    db: &impl ConnectionTrait,
    org: OrgId,
    customer_id: i64,
    kind: Kind,
) -> Result<bool, sea_orm::DbErr> {
    Ok(open_request(db, org, customer_id, kind)
        .await?
        .is_some_and(|r| !Verification::of(&r).allows_fulfilment()))
}

/// Before an export or erasure from a page: passes when there is no open request of `kind`,
/// or it is verified or overridden; otherwise an override `reason` must be given — it is then
/// recorded on the request and audit-logged — or the action is refused (409).
pub async fn check_or_override(
    state: &AppState,
    scope: &TenantScope,
    customer_id: i64,
    kind: Kind,
    reason: &Option<String>,
) -> Result<(), AppError> {
    let org = scope.org();
    let Some(request) = open_request(&state.db, org, customer_id, kind).await? else {
        return Ok(());
    };
    if Verification::of(&request).allows_fulfilment() {
        return Ok(());
    }
    let Some(reason) = non_empty(reason) else {
        return Err(AppError::Refused {
            key: "privacy.verify.unverified",
            reason: request.reference,
        });
    };
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::BadRequest("privacy.verify.reason_too_long"));
    }
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    privacy_request::Entity::update_in(org)
        .col_expr(
            privacy_request::Column::OverrideReason,
            Expr::value(Some(reason.to_owned())),
        )
        .col_expr(
            privacy_request::Column::OverriddenBy,
            Expr::value(Some(scope.user_id())),
        )
        .col_expr(
            privacy_request::Column::OverriddenAt,
            Expr::value(Some(Utc::now())),
        )
        .filter(privacy_request::Column::Id.eq(request.id))
        .exec(&txn)
        .await?;
    // The reason stays on the request (the register shows it), out of the audit log: it may
    // describe the person.
    state
        .audit
        .record_holding(
            &audit_guard,
            &txn,
            scope.audit_entry(
                "privacy.verification_overridden",
                request.reference,
                serde_json::json!({ "kind": kind.as_str(), "customer": customer_id }),
            ),
        )
        .await?;
    txn.commit().await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct SendForm {
    email_id: String,
}

/// `POST /privacy/requests/{id}/verification` (admins): sends the one-time link to one of the
/// customer record's addresses (chosen by its row, so never a new address).
pub async fn send(
    state: web::Data<AppState>,
    scope: TenantScope,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<SendForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    let org = scope.org();
    let request = super::requests::find(&state.db, org, path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    let customer_id = request
        .customer_id
        .ok_or(AppError::BadRequest("privacy.verify.no_customer"))?;
    if request.status != Status::Open.as_str() {
        return Err(AppError::BadRequest("privacy.bad_status"));
    }
    let email_id: i64 = form
        .email_id
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("privacy.verify.not_on_record"))?;
    let row = customer_email::Entity::find_by_id_in(org, email_id)
        .filter(customer_email::Column::CustomerId.eq(customer_id))
        .one(&state.db)
        .await?
        .ok_or(AppError::BadRequest("privacy.verify.not_on_record"))?;
    let address = EmailAddress::parse(&row.email)
        .map_err(|_| AppError::BadRequest("privacy.verify.not_on_record"))?;
    if !state.mailer.is_configured() {
        return Err(AppError::BadRequest("privacy.verify.mail_off"));
    }
    let token = random_token();
    let now = Utc::now();
    privacy_request::Entity::update_in(org)
        .col_expr(
            privacy_request::Column::VerificationTokenHash,
            Expr::value(Some(sha256_hex(&token))),
        )
        .col_expr(
            privacy_request::Column::VerificationEmailId,
            Expr::value(Some(row.id)),
        )
        .col_expr(
            privacy_request::Column::VerificationSentAt,
            Expr::value(Some(now)),
        )
        .col_expr(
            privacy_request::Column::VerificationExpiresAt,
            Expr::value(Some(now + Duration::days(VALID_FOR_DAYS))),
        )
        .filter(privacy_request::Column::Id.eq(request.id))
        .exec(&state.db)
        .await?;
    let tr = crate::web::i18n::Tr::new(scope.session.lang);
    let link = state
        .config
        .base_url
        .join(&paths::PRIVACY_VERIFY.at(token.as_str()));
    let body = tr.tf(
        "mail.verify_body",
        &[
            ("link", &link),
            ("reference", &request.reference),
            ("days", &VALID_FOR_DAYS.to_string()),
        ],
    );
    if let Err(error) = state
        .mailer
        .send(&address, tr.t("mail.verify_subject"), body)
        .await
    {
        tracing::error!(reason = error.kind(), "verification link not sent");
        return Err(AppError::BadRequest("privacy.verify.not_sent"));
    }
    scope
        .audit(
            &state,
            "privacy.verification_sent",
            request.reference,
            serde_json::json!({ "customer": customer_id, "address_row": row.id }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::PRIVACY_REQUESTS.path(),
        "flash.privacy_verification_sent",
    ))
}

/// The open request a link names, if the link is unspent and unexpired.
async fn find_by_token(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<privacy_request::Model>, sea_orm::DbErr> {
    if token.len() > 100 {
        return Ok(None);
    }
    // Looked up by the token's digest alone: the link is the requester's only credential,
    // and it names its own organization's request.
    let found = privacy_request::Entity::find()
        .filter(privacy_request::Column::VerificationTokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?;
    Ok(found.filter(|r| {
        r.verified_at.is_none()
            && r.status == Status::Open.as_str()
            && r.verification_expires_at.is_some_and(|at| at > Utc::now())
    }))
}

#[derive(Template)]
#[template(path = "privacy/verify.html")]
struct VerifyPage {
    page: Page,
    token: String,
    reference: Option<String>,
    done: bool,
}

/// `GET /privacy/verify/{token}`: the requester's confirmation button (a button, so a mail
/// scanner that follows links confirms nothing).
pub async fn show(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let found = find_by_token(&state.db, &token).await?;
    let page = Page::new(&state, &visitor.0, "login").await?;
    let status = if found.is_some() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::BAD_REQUEST
    };
    crate::web::page::render_with_status(
        &VerifyPage {
            page,
            token: token.into_inner(),
            reference: found.map(|r| r.reference),
            done: false,
        },
        status,
    )
}

/// `POST /privacy/verify/{token}`: records the confirmation; the link is spent.
pub async fn confirm(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Some(request) = find_by_token(&state.db, &token).await? else {
        return show(state, visitor, token).await;
    };
    let audit_guard = state.audit.exclusive().await;
    let txn = crate::db::begin_write(&state.db).await?;
    super::requests::verify(&state, &audit_guard, &txn, &request, Actor::Anonymous, None).await?;
    txn.commit().await?;
    drop(audit_guard);
    render(&VerifyPage {
        page: Page::new(&state, &visitor.0, "login").await?,
        token: String::new(),
        reference: Some(request.reference),
        done: true,
    })
}
