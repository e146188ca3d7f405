//! `/settings/organization`: the organization's own settings page. Admins find the API keys
//! there; the owner exports the whole organization and schedules its deletion — confirmed by
//! typing the organization's name — with a [`WINDOW_DAYS`]-day window in which the page shows
//! the date, the deletion can be cancelled and the export downloaded. After the window the
//! purge job (`crate::jobs::org_purge`) removes everything ([`super::purge`]). The owner also
//! sets who must have a second factor (`/settings/organization/two-factor`). Exports,
//! scheduling, cancelling and the policy are audit-logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;

use super::{OrgId, Role, TenantScope};
use crate::auth::two_factor::{self, Policy};
use crate::db::InOrg;
use crate::db::entity::organization_deletion;
use crate::state::AppState;
use crate::web::forms::NoFields;
use crate::web::page::{download, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Page};

/// Days between scheduling a deletion and the purge.
pub const WINDOW_DAYS: i64 = 30;

/// The organization's scheduled deletion, if any.
pub async fn scheduled(
    db: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Option<organization_deletion::Model>, sea_orm::DbErr> {
    organization_deletion::Entity::find_by_id(org).one(db).await
}

/// Schedules the deletion of `org` [`WINDOW_DAYS`] after `now` (an existing schedule stays).
pub async fn schedule(
    db: &impl ConnectionTrait,
    org: OrgId,
    requested_by: i64,
    now: DateTime<Utc>,
) -> Result<organization_deletion::Model, sea_orm::DbErr> {
    if let Some(existing) = scheduled(db, org).await? {
        return Ok(existing);
    }
    organization_deletion::ActiveModel {
        organization_id: Set(org),
        requested_at: Set(now),
        requested_by: Set(Some(requested_by)),
        purge_after: Set(now + Duration::days(WINDOW_DAYS)),
        purge_started_at: Set(None),
        confirm_to: Set(None),
    }
    .insert(db)
    .await
}

/// Cancels a scheduled deletion that has not started; false when there was none.
pub async fn cancel(db: &impl ConnectionTrait, org: OrgId) -> Result<bool, sea_orm::DbErr> {
    Ok(organization_deletion::Entity::delete_in(org)
        .filter(organization_deletion::Column::PurgeStartedAt.is_null())
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// The organizations whose window has passed.
pub async fn due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<OrgId>, sea_orm::DbErr> {
    Ok(organization_deletion::Entity::find()
        .filter(organization_deletion::Column::PurgeAfter.lte(now))
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.organization_id)
        .collect())
}

/// A scheduled deletion as the page shows it.
struct DeletionView {
    requested_at: String,
    purge_after: String,
    days_left: i64,
}

#[derive(Template)]
#[template(path = "settings/organization.html")]
struct OrganizationPage {
    page: Page,
    name: String,
    deletion: Option<DeletionView>,
    holds: u64,
    /// Who must have a second factor (src/auth/two_factor.rs).
    two_factor_policy: Policy,
    error: Option<&'static str>,
}

impl OrganizationPage {
    fn policies(&self) -> [Policy; 3] {
        Policy::ALL
    }
}

async fn render_page(
    state: &AppState,
    scope: &TenantScope,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let now = Utc::now();
    let deletion = scheduled(&state.db, scope.org())
        .await?
        .map(|d| DeletionView {
            requested_at: d.requested_at.format("%Y-%m-%d").to_string(),
            purge_after: d.purge_after.format("%Y-%m-%d %H:%M UTC").to_string(),
            // Whole days, rounded up: "30 days" right after scheduling.
            days_left: ((d.purge_after - now).num_seconds().max(0) + 86_399) / 86_400,
        });
    let page = OrganizationPage {
        page: Page::new(state, &scope.session, "organization").await?,
        name: org_name(scope),
        deletion,
        holds: super::purge::holds(&state.db, scope.org()).await?,
        two_factor_policy: two_factor::policy_of(&state.db, scope.org()).await?,
        error,
    };
    render_with_status(&page, status)
}

fn org_name(scope: &TenantScope) -> String {
    scope
        .session
        .org
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_default()
}

/// `GET /settings/organization` (admins; the export and deletion are the owner's).
pub async fn page(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_admin()?;
    render_page(&state, &scope, None, StatusCode::OK).await
}

/// `POST /settings/organization/export` (owner): the whole organization as a ZIP download.
pub async fn export(
    state: web::Data<AppState>,
    scope: TenantScope,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_owner()?;
    scope
        .audit(
            &state,
            "organization.exported",
            format!("organization:{}", scope.org()),
            serde_json::json!({ "schema": super::export::SCHEMA }),
        )
        .await?;
    let filename = format!(
        "lethe-organization-{}-{}.zip",
        scope.org(),
        Utc::now().format("%Y%m%d")
    );
    Ok(download("application/zip", &filename)
        .streaming(super::export::stream(state.into_inner(), scope.org())))
}

#[derive(Deserialize)]
pub struct PolicyForm {
    policy: String,
}

/// `POST /settings/organization/two-factor` (owner): who must have a second factor — nobody
/// (`off`), admins and owners, or everyone. A member without one is sent to set it up at their
/// next sign-in and reaches nothing else until they have.
pub async fn set_two_factor_policy(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<PolicyForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_owner()?;
    let policy = Policy::parse(&form.policy).ok_or(AppError::BadRequest("error.bad_form"))?;
    // An owner cannot require of others what they have not set up themselves.
    if policy.requires(Role::Owner) && !two_factor::has_factor(&state.db, scope.user_id()).await? {
        return Ok(see_other_with_flash(
            paths::ORGANIZATION.path(),
            "flash.two_factor_yourself_first",
        ));
    }
    let before = two_factor::policy_of(&state.db, scope.org()).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    two_factor::set_policy(&txn, scope.org(), policy).await?;
    // Members the policy now covers who have no factor are signed out everywhere: at their
    // next sign-in they are sent to set one up, instead of working on until their session ends.
    let sessions_ended = two_factor::end_sessions_without_factor(&txn, scope.org(), policy).await?;
    txn.commit().await?;
    scope
        .audit(
            &state,
            "organization.two_factor_policy",
            format!("organization:{}", scope.org()),
            serde_json::json!({
                "from": before.as_str(),
                "to": policy.as_str(),
                "sessions_ended": sessions_ended,
            }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::ORGANIZATION.path(),
        "flash.saved",
    ))
}

#[derive(Deserialize)]
pub struct DeletionForm {
    confirm_name: String,
}

/// `POST /settings/organization/deletion` (owner): schedules the deletion once the typed name
/// matches; refused while anything is on legal hold.
pub async fn schedule_deletion(
    state: web::Data<AppState>,
    scope: TenantScope,
    CsrfForm(form): CsrfForm<DeletionForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_owner()?;
    if form.confirm_name.trim() != org_name(&scope) {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_page(&state, &scope, Some("orgs.deletion.name_mismatch"), status).await;
    }
    if super::purge::holds(&state.db, scope.org()).await? > 0 {
        let status = StatusCode::CONFLICT;
        return render_page(&state, &scope, Some("orgs.deletion.on_hold"), status).await;
    }
    let deletion = schedule(&state.db, scope.org(), scope.user_id(), Utc::now()).await?;
    scope
        .audit(
            &state,
            "organization.deletion_scheduled",
            format!("organization:{}", scope.org()),
            serde_json::json!({ "purge_after": deletion.purge_after.to_rfc3339() }),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::ORGANIZATION.path(),
        "flash.org_deletion_scheduled",
    ))
}

/// `POST /settings/organization/deletion/cancel` (owner).
pub async fn cancel_deletion(
    state: web::Data<AppState>,
    scope: TenantScope,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    scope.require_owner()?;
    if !cancel(&state.db, scope.org()).await? {
        return Err(AppError::NotFound);
    }
    scope
        .audit(
            &state,
            "organization.deletion_cancelled",
            format!("organization:{}", scope.org()),
            serde_json::json!({}),
        )
        .await?;
    Ok(see_other_with_flash(
        paths::ORGANIZATION.path(),
        "flash.org_deletion_cancelled",
    ))
}

/// `GET /settings/organization/deletion/receipt` (owners): while a deletion is scheduled, a
/// text file confirming it — the organization, when it was asked for, and when it becomes final
/// — to keep; the mail sent when the purge is done confirms the end (src/orgs/purge.rs).
pub async fn deletion_receipt(
    state: web::Data<AppState>,
    scope: TenantScope,
) -> Result<HttpResponse, AppError> {
    scope.require_owner()?;
    let deletion = scheduled(&state.db, scope.org())
        .await?
        .ok_or(AppError::NotFound)?;
    let tr = crate::web::i18n::Tr::new(scope.session.lang);
    let text = tr.tf(
        "orgs.deletion_receipt.body",
        &[
            ("organization", org_name(&scope).as_str()),
            ("id", &scope.org().get().to_string()),
            (
                "requested_at",
                &deletion
                    .requested_at
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string(),
            ),
            (
                "final_at",
                &deletion
                    .purge_after
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string(),
            ),
        ],
    );
    let file = format!(
        "lethe-deletion-{}.txt",
        deletion.purge_after.format("%Y-%m-%d")
    );
    Ok(download("text/plain; charset=utf-8", &file).body(text))
}
