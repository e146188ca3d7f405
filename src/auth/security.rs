//! `/account/security`: the signed-in user's second factor (an authenticator app set up at
//! `/account/security/two-factor`, `enrolment.rs`, and removed here with the password or a
//! current code, `/account/security/two-factor/remove`; passkeys, `passkey_pages.rs`) and
//! sessions: each with its device (browser and
//! operating system), address, start and last activity, this one marked, and a button to end
//! it (`/account/security/sessions/{handle}/end`; ending this one signs out).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;

use super::notices::{self, Notice};
use super::passkey_pages::{self, PasskeySection};
use super::{two_factor, users};
use crate::audit::Actor;
use crate::crypto::sha256_hex;
use crate::db::entity::session;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::forms::NoFields;
use crate::web::page::{Page, render_with_status, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, Authenticated, CsrfForm};

/// A session as the list shows it.
struct SessionView {
    /// Names the session in the end button's URL (not its id, which is the token's digest).
    handle: String,
    device: String,
    ip: String,
    created_at: String,
    last_seen_at: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "auth/security.html")]
struct SecurityPage {
    page: Page,
    enabled_since: Option<String>,
    recovery_codes_left: u64,
    required: bool,
    sessions: Vec<SessionView>,
    passkeys: PasskeySection,
    error: Option<&'static str>,
}

/// The handle of the session whose row id is `id`.
fn handle_of(id: &str) -> String {
    sha256_hex(&format!("session-handle:{id}"))[..16].to_owned()
}

async fn sessions_of(
    state: &AppState,
    user_id: i64,
) -> Result<Vec<session::Model>, sea_orm::DbErr> {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .order_by_desc(session::Column::LastSeenAt)
        .all(&state.db)
        .await
}

pub(super) async fn render_page(
    state: &AppState,
    auth: &Authenticated,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let factor = two_factor::confirmed(&state.db, auth.user.id).await?;
    let current = auth.session.row_id();
    let unknown = auth.session.tr().t("security.sessions.unknown");
    let sessions = sessions_of(state, auth.user.id)
        .await?
        .into_iter()
        .map(|s| SessionView {
            handle: handle_of(&s.id),
            device: s.user_agent.clone().unwrap_or_else(|| unknown.to_owned()),
            ip: s.ip.clone().unwrap_or_else(|| unknown.to_owned()),
            created_at: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_seen_at: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            current: current.as_deref() == Some(s.id.as_str()),
        })
        .collect();
    let page = SecurityPage {
        page: Page::new(state, &auth.session, "account").await?,
        enabled_since: factor
            .as_ref()
            .and_then(|f| f.confirmed_at)
            .map(|t| t.format("%Y-%m-%d").to_string()),
        recovery_codes_left: two_factor::recovery_codes_left(&state.db, auth.user.id).await?,
        required: two_factor::required_for(&state.db, auth.user.id).await?,
        sessions,
        passkeys: passkey_pages::section(state, auth).await?,
        error,
    };
    render_with_status(&page, status)
}

/// `GET /account/security`.
pub async fn security(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, AppError> {
    render_page(&state, &auth, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// `POST /account/security/two-factor/remove`: with the password, or a current code.
pub async fn remove_factor(
    state: web::Data<AppState>,
    auth: Authenticated,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Result<HttpResponse, AppError> {
    if !two_factor::has_totp(&state.db, auth.user.id).await? {
        return Err(AppError::NotFound);
    }
    let address = client.ip.as_deref();
    if state.throttle.is_blocked(&auth.user.email, address) {
        let status = StatusCode::TOO_MANY_REQUESTS;
        return render_page(&state, &auth, Some("login.throttled"), status).await;
    }
    let proven = if !form.password.is_empty() {
        users::password_matches(&state.db, auth.user.id, &form.password).await?
    } else {
        let proof = two_factor::verify(
            &state.db,
            &state.sealer,
            auth.user.id,
            &form.code,
            Utc::now(),
        )
        .await?;
        proof == Some(two_factor::Proof::Code)
    };
    if !proven {
        state.throttle.record_failure(&auth.user.email, address);
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_page(&state, &auth, Some("security.remove_refused"), status).await;
    }
    two_factor::remove_totp(&state.db, auth.user.id).await?;
    let actor = Actor::User {
        id: auth.user.id,
        email: auth.user.email.clone(),
    };
    let details = serde_json::json!({});
    two_factor::audit_account(
        &state,
        auth.user.id,
        actor,
        "two_factor.removed",
        Some(&client),
        details,
    )
    .await?;
    notices::send(
        state.clone().into_inner(),
        auth.user.id,
        Notice::FactorRemoved,
    );
    // Where an organization requires a factor, going without one is not an option: every
    // session ends, and the next sign-in sets up the new one (moving to a new device).
    if !two_factor::has_factor(&state.db, auth.user.id).await?
        && two_factor::required_for(&state.db, auth.user.id).await?
    {
        two_factor::end_sessions(&state.db, auth.user.id).await?;
        return Ok(see_other_with_flash(
            paths::LOGIN.path(),
            "flash.two_factor_removed_required",
        ));
    }
    Ok(see_other_with_flash(
        paths::ACCOUNT_SECURITY.path(),
        "flash.two_factor_removed",
    ))
}

/// `POST /account/security/sessions/{handle}/end`: ends one of the user's sessions; ending
/// this one signs out.
pub async fn end_session(
    state: web::Data<AppState>,
    auth: Authenticated,
    handle: web::Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let sessions = sessions_of(&state, auth.user.id).await?;
    let target = sessions
        .into_iter()
        .find(|s| handle_of(&s.id) == *handle)
        .ok_or(AppError::NotFound)?;
    if auth.session.row_id().as_deref() == Some(target.id.as_str()) {
        auth.session.end(&state).await?;
        return Ok(see_other_with_flash(
            paths::LOGIN.path(),
            "flash.logged_out",
        ));
    }
    session::Entity::delete_many()
        .filter(session::Column::Id.eq(target.id))
        .filter(session::Column::UserId.eq(auth.user.id))
        .exec(&state.db)
        .await?;
    Ok(see_other_with_flash(
        paths::ACCOUNT_SECURITY.path(),
        "flash.session_ended",
    ))
}
