//! `/login` (the sign-in form and its post) and `/logout`. A user with a second factor (or
//! one their organization requires) goes on to `/login/2fa` (`second_step.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::passkeys::{self, Binding, Ceremony, PasskeyError};
use super::second_step::PasskeyForm;
use super::{failed_sign_in, passkey_pages, two_factor, users};
use crate::audit::{Entry, Refusal};
use crate::crypto::check_password;
use crate::db::entity::user;
use crate::mail::EmailAddress;
use crate::orgs::queries as orgs;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::forms::NoFields;
use crate::web::page::{Page, render_with_status, safe_next, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Visitor, see_other};

/// Verifying against this hash when the account does not exist keeps the answer time the
/// same, so timing does not tell which addresses have accounts.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::crypto::hash_password("no such account").unwrap_or_default()
});

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: Page,
    email: String,
    next: String,
    error: Option<&'static str>,
    setup_open: bool,
    /// The options of signing in with a passkey (JSON, for `app.js`).
    passkey_options: Option<String>,
}

/// The sign-in page.
async fn login_page(
    state: &AppState,
    visitor: &Visitor,
    email: String,
    next: String,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = Page::new(state, &visitor.0, "login").await?;
    let setup_open = error.is_none() && users::count(&state.db).await? == 0;
    let passkey_options = passkey_pages::request_options(state, &visitor.0, None).await?;
    let page = LoginPage {
        page,
        email,
        next,
        error,
        setup_open,
        passkey_options,
    };
    render_with_status(&page, status)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if visitor.0.user.is_some() {
        return Ok(see_other(&next));
    }
    login_page(&state, &visitor, String::new(), next, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref());
    let address = client.ip.as_deref();
    let failure = |key: &'static str, status: StatusCode| {
        let state = state.clone();
        let visitor = &visitor;
        let email = form.email.clone();
        let next = next.clone();
        async move { login_page(&state, visitor, email, next, Some(key), status).await }
    };
    if state.throttle.is_blocked(&form.email, address) {
        return failure("login.throttled", StatusCode::TOO_MANY_REQUESTS).await;
    }
    let found = match EmailAddress::parse(&form.email) {
        Ok(email) => users::find_by_email(&state.db, &email).await?,
        Err(_) => None,
    };
    let password = form.password.clone();
    let stored = found
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let matches = check_password(password, stored)
        .await
        .map_err(AppError::internal)?;
    let Some(user) = found.clone().filter(|_| matches) else {
        state.throttle.record_failure(&form.email, address);
        match &found {
            // A known account's failures show in each of its organizations' logs (under no
            // organization when it has none).
            Some(user) => {
                let details = serde_json::json!({});
                failed_sign_in::record(&state, user.id, &client, details).await?;
            }
            // An unknown address is counted under no organization, one row per source and
            // minute (`audit::tally`), and never with the typed address.
            None => state.audit.count_refusal(Refusal {
                org: None,
                action: "login.failed_unknown",
                target: "account".to_owned(),
                client: &client,
                reason: None,
            }),
        }
        return failure("login.failed", StatusCode::UNAUTHORIZED).await;
    };
    // With a second factor (or one the organization requires), the password alone does not
    // sign in: the session waits for the second step, and failures so far are not forgiven.
    if two_factor::has_factor(&state.db, user.id).await?
        || two_factor::required_for(&state.db, user.id).await?
    {
        visitor.0.start_pending(&state, user.id).await?;
        return Ok(see_other(&second_step_url(&next)));
    }
    finish(&state, &visitor, &user, &client).await?;
    Ok(see_other(&next))
}

/// `POST /login/passkey`: signing in with a passkey instead of the password (and of the
/// second factor: the authenticator verified the user with a PIN or biometrics, and holds a
/// key that never leaves it).
pub async fn passkey_sign_in(
    state: web::Data<AppState>,
    visitor: Visitor,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<PasskeyForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next());
    if visitor.0.user.is_some() {
        return Ok(see_other(&next));
    }
    let (Some(rp), Some(session)) = (passkey_pages::relying_party(&state), visitor.0.row_id())
    else {
        return Err(AppError::NotFound);
    };
    let address = client.ip.as_deref();
    let refuse = |key: &'static str, status: StatusCode| {
        let state = state.clone();
        let visitor = &visitor;
        let next = next.clone();
        async move { login_page(&state, visitor, String::new(), next, Some(key), status).await }
    };
    // Whose passkey it claims to be, for the account's throttle (the signature decides).
    let claimed = passkeys::by_credential(&state.db, form.signature().credential_id.trim()).await?;
    let claimed_user = match &claimed {
        Some(p) => user::Entity::find_by_id(p.user_id).one(&state.db).await?,
        None => None,
    };
    let account = claimed_user.as_ref().map_or("", |u| u.email.as_str());
    if state.throttle.is_blocked(account, address) {
        return refuse("login.throttled", StatusCode::TOO_MANY_REQUESTS).await;
    }
    let verified = passkeys::verify(
        &state.db,
        &state.sealer,
        &rp,
        &Binding {
            ceremony: Ceremony::SignIn,
            session: &session,
            user_id: None,
        },
        form.signature(),
        Utc::now(),
    )
    .await;
    let refused = match verified {
        Ok(verified) => {
            let user = user::Entity::find_by_id(verified.passkey.user_id)
                .one(&state.db)
                .await?
                .ok_or(AppError::NotFound)?;
            finish(&state, &visitor, &user, &client).await?;
            return Ok(see_other(&next));
        }
        Err(PasskeyError::Database(error)) => return Err(error.into()),
        Err(refused) => refused,
    };
    state.throttle.record_failure(account, address);
    match &claimed_user {
        Some(user) => {
            let details = serde_json::json!({ "step": "passkey", "reason": refused.reason() });
            failed_sign_in::record(&state, user.id, &client, details).await?
        }
        None => state.audit.count_refusal(Refusal {
            org: None,
            action: "login.failed_unknown",
            target: "passkey".to_owned(),
            client: &client,
            reason: None,
        }),
    }
    refuse("security.passkeys.not_accepted", StatusCode::UNAUTHORIZED).await
}

/// The second step's URL, keeping where to go afterwards.
pub(super) fn second_step_url(next: &str) -> String {
    format!(
        "{}?next={}",
        paths::LOGIN_TWO_FACTOR,
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

/// Signs `user` in on this session (a fresh session id), once every factor is proven: clears
/// the account's failed attempts, records the login and audits it.
pub(super) async fn finish(
    state: &AppState,
    visitor: &Visitor,
    user: &user::Model,
    client: &ClientInfo,
) -> Result<(), AppError> {
    state.throttle.record_success(&user.email);
    let first_org = orgs::first_membership(&state.db, user.id).await?;
    visitor
        .0
        .start_authenticated(state, user.id, first_org)
        .await?;
    user::Entity::update_many()
        .col_expr(user::Column::LastLoginAt, Utc::now().into())
        .filter(user::Column::Id.eq(user.id))
        .exec(&state.db)
        .await?;
    let target = format!("user:{}", user.id);
    let entry = Entry::by_user(
        first_org,
        (user.id, user.email.clone()),
        "login.succeeded",
        target,
        client,
    );
    state.audit.record(&state.db, entry).await?;
    Ok(())
}

pub async fn logout(
    state: web::Data<AppState>,
    visitor: Visitor,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    visitor.0.end(&state).await?;
    Ok(see_other_with_flash(
        paths::LOGIN.path(),
        "flash.logged_out",
    ))
}
