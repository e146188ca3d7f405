//! `/login/2fa`: the second step of signing in, for a session that gave the right password
//! (`login.rs`) and owes the second factor: a code from the authenticator app, a recovery
//! code, or a signature by one of the user's passkeys (`/login/2fa/passkey`). `/login/2fa/setup`: when the organization requires a second factor and the user has
//! none, setting one up (`enrolment.rs`'s page) is the second step. Failed codes count in the
//! login throttle of the account; until the step is done the session reaches nothing else.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::enrolment::{self, ConfirmForm};
use super::login::{finish, second_step_url};
use super::passkey_pages;
use super::passkeys::{self, Binding, Ceremony, PasskeyError};
use super::two_factor::{self, Proof};
use crate::audit::Actor;
use crate::db::entity::user;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::page::{Page, render_with_status, safe_next};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Visitor, see_other};

#[derive(Template)]
#[template(path = "auth/second_step.html")]
struct SecondStepPage {
    page: Page,
    next: String,
    error: Option<&'static str>,
    /// The user has an authenticator app or recovery codes: the code form shows.
    takes_codes: bool,
    /// The options of signing with one of the user's passkeys (JSON, for `app.js`).
    passkey_options: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The user this session owes the second step for; None sends the visitor to sign in (or on,
/// when signed in already).
async fn pending_user(
    state: &AppState,
    visitor: &Visitor,
) -> Result<Option<user::Model>, AppError> {
    let Some(user_id) = visitor.0.pending_user_id else {
        return Ok(None);
    };
    Ok(user::Entity::find_by_id(user_id).one(&state.db).await?)
}

fn elsewhere(visitor: &Visitor, next: &str) -> HttpResponse {
    if visitor.0.user.is_some() {
        see_other(next)
    } else {
        see_other(paths::LOGIN.path())
    }
}

async fn step_page(
    state: &AppState,
    visitor: &Visitor,
    user_id: i64,
    next: String,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = Page::new(state, &visitor.0, "login").await?;
    let takes_codes = two_factor::has_totp(&state.db, user_id).await?
        || two_factor::recovery_codes_left(&state.db, user_id).await? > 0;
    let passkey_options = passkey_pages::request_options(state, &visitor.0, Some(user_id)).await?;
    let page = SecondStepPage {
        page,
        next,
        error,
        takes_codes,
        passkey_options,
    };
    render_with_status(&page, status)
}

/// `GET /login/2fa`.
pub async fn form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    let Some(user) = pending_user(&state, &visitor).await? else {
        return Ok(elsewhere(&visitor, &next));
    };
    if !two_factor::has_factor(&state.db, user.id).await? {
        return Ok(see_other(&setup_url(&next)));
    }
    step_page(&state, &visitor, user.id, next, None, StatusCode::OK).await
}

fn setup_url(next: &str) -> String {
    second_step_url(next).replacen(
        paths::LOGIN_TWO_FACTOR.path(),
        paths::LOGIN_TWO_FACTOR_SETUP.path(),
        1,
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    next: Option<String>,
}

/// `POST /login/2fa`: a code or a recovery code; right, the session is signed in.
pub async fn verify(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref());
    let Some(user) = pending_user(&state, &visitor).await? else {
        return Ok(elsewhere(&visitor, &next));
    };
    let address = client.ip.as_deref();
    if state.throttle.is_blocked(&user.email, address) {
        let status = StatusCode::TOO_MANY_REQUESTS;
        return step_page(
            &state,
            &visitor,
            user.id,
            next,
            Some("login.throttled"),
            status,
        )
        .await;
    }
    let proof =
        two_factor::verify(&state.db, &state.sealer, user.id, &form.code, Utc::now()).await?;
    let Some(proof) = proof else {
        state.throttle.record_failure(&user.email, address);
        super::failed_sign_in::record(
            &state,
            user.id,
            &client,
            serde_json::json!({ "step": "second_factor" }),
        )
        .await?;
        let status = StatusCode::UNAUTHORIZED;
        return step_page(
            &state,
            &visitor,
            user.id,
            next,
            Some("security.code_wrong"),
            status,
        )
        .await;
    };
    finish(&state, &visitor, &user, &client).await?;
    if proof == Proof::RecoveryCode {
        let left = two_factor::recovery_codes_left(&state.db, user.id).await?;
        let actor = Actor::User {
            id: user.id,
            email: user.email.clone(),
        };
        two_factor::audit_account(
            &state,
            user.id,
            actor,
            "two_factor.recovery_code_used",
            Some(&client),
            serde_json::json!({ "left": left }),
        )
        .await?;
    }
    Ok(see_other(&next))
}

/// What the browser returned from `navigator.credentials.get()`, in a form.
#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    credential_id: String,
    #[serde(default)]
    client_data: String,
    #[serde(default)]
    authenticator_data: String,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    user_handle: String,
    next: Option<String>,
}

impl PasskeyForm {
    pub(super) fn signature(&self) -> passkeys::Signature<'_> {
        passkeys::Signature {
            credential_id: &self.credential_id,
            client_data: &self.client_data,
            authenticator_data: &self.authenticator_data,
            signature: &self.signature,
            user_handle: &self.user_handle,
        }
    }

    pub(super) fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }
}

/// `POST /login/2fa/passkey`: a signature by one of the user's passkeys; right, the session
/// is signed in.
pub async fn verify_passkey(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<PasskeyForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next());
    let Some(user) = pending_user(&state, &visitor).await? else {
        return Ok(elsewhere(&visitor, &next));
    };
    let (Some(rp), Some(session)) = (passkey_pages::relying_party(&state), visitor.0.row_id())
    else {
        return Err(AppError::NotFound);
    };
    let address = client.ip.as_deref();
    if state.throttle.is_blocked(&user.email, address) {
        let status = StatusCode::TOO_MANY_REQUESTS;
        return step_page(
            &state,
            &visitor,
            user.id,
            next,
            Some("login.throttled"),
            status,
        )
        .await;
    }
    let verified = passkeys::verify(
        &state.db,
        &state.sealer,
        &rp,
        &Binding {
            ceremony: Ceremony::SecondStep,
            session: &session,
            user_id: Some(user.id),
        },
        form.signature(),
        Utc::now(),
    )
    .await;
    match verified {
        Ok(_) => {
            finish(&state, &visitor, &user, &client).await?;
            Ok(see_other(&next))
        }
        Err(PasskeyError::Database(error)) => Err(error.into()),
        Err(refused) => {
            state.throttle.record_failure(&user.email, address);
            super::failed_sign_in::record(
                &state,
                user.id,
                &client,
                serde_json::json!({ "step": "passkey", "reason": refused.reason() }),
            )
            .await?;
            let status = StatusCode::UNAUTHORIZED;
            let error = Some("security.passkeys.not_accepted");
            step_page(&state, &visitor, user.id, next, error, status).await
        }
    }
}

/// `GET /login/2fa/setup`: the enrolment the organization requires.
pub async fn setup_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    let Some(user) = pending_user(&state, &visitor).await? else {
        return Ok(elsewhere(&visitor, &next));
    };
    if two_factor::has_factor(&state.db, user.id).await? {
        return Ok(see_other(&second_step_url(&next)));
    }
    enrolment::enrolment_page(
        &state,
        &visitor.0,
        user.id,
        &user.email,
        paths::LOGIN_TWO_FACTOR_SETUP.path(),
        next,
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /login/2fa/setup`: confirms the new factor with a code, signs in and shows the
/// recovery codes once.
pub async fn setup(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next());
    let Some(user) = pending_user(&state, &visitor).await? else {
        return Ok(elsewhere(&visitor, &next));
    };
    let address = client.ip.as_deref();
    if state.throttle.is_blocked(&user.email, address) {
        return Err(AppError::TooManyRequests {
            retry_after_secs: 60,
        });
    }
    let confirmed =
        two_factor::confirm(&state.db, &state.sealer, user.id, form.code(), Utc::now()).await?;
    let Some(codes) = confirmed else {
        state.throttle.record_failure(&user.email, address);
        return enrolment::enrolment_page(
            &state,
            &visitor.0,
            user.id,
            &user.email,
            paths::LOGIN_TWO_FACTOR_SETUP.path(),
            next,
            Some("security.code_wrong"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    finish(&state, &visitor, &user, &client).await?;
    enrolment::record_enabled(&state, user.id, user.email.clone(), &client).await?;
    enrolment::recovery_codes_page(&state, &visitor.0, codes, next).await
}

/// `POST /login/2fa/setup/passkey`: the required factor set up as a passkey instead of an
/// app: signs in and shows the recovery codes once.
pub async fn setup_passkey(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<passkey_pages::AddForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next());
    let Some(user) = pending_user(&state, &visitor).await? else {
        return Ok(elsewhere(&visitor, &next));
    };
    if two_factor::has_factor(&state.db, user.id).await? {
        return Ok(see_other(&second_step_url(&next)));
    }
    let added =
        passkey_pages::register(&state, &visitor.0, (user.id, &user.email), &form, &client).await?;
    let added = match added {
        Ok(added) => added,
        Err(key) => {
            return enrolment::enrolment_page(
                &state,
                &visitor.0,
                user.id,
                &user.email,
                paths::LOGIN_TWO_FACTOR_SETUP.path(),
                next,
                Some(key),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    finish(&state, &visitor, &user, &client).await?;
    match added.recovery_codes {
        Some(codes) => enrolment::recovery_codes_page(&state, &visitor.0, codes, next).await,
        None => Ok(see_other(&next)),
    }
}
