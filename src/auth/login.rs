//! `/login` (the sign-in form and its post) and `/logout`. A user with a second factor (or
//! one their organization requires) goes on to `/login/2fa` (`second_step.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::{two_factor, users};
use crate::audit::{Actor, Entry, Refusal};
use crate::crypto::verify_password;
use crate::db::entity::user;
use crate::mail::EmailAddress;
use crate::orgs::queries as orgs;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::forms::NoFields;
use crate::web::page::{Page, render_with_status, safe_next, see_other_with_flash};
use crate::web::paths;
use crate::web::{AppError, CsrfForm, Visitor, render, see_other};

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
    let page = Page::new(&state, &visitor.0, "login").await?;
    render(&LoginPage {
        page,
        email: String::new(),
        next,
        error: None,
        setup_open: users::count(&state.db).await? == 0,
    })
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
        async move {
            let page = Page::new(&state, &visitor.0, "login").await?;
            render_with_status(
                &LoginPage {
                    page,
                    email,
                    next,
                    error: Some(key),
                    setup_open: false,
                },
                status,
            )
        }
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
    let matches = web::block(move || verify_password(&password, &stored))
        .await
        .map_err(AppError::internal)?;
    let Some(user) = found.clone().filter(|_| matches) else {
        state.throttle.record_failure(&form.email, address);
        match &found {
            // A known account's failures show in each of its organizations' logs (under no
            // organization when it has none).
            Some(user) => {
                let orgs_of_user = orgs::organizations_of(&state.db, user.id).await?;
                let orgs_or_none: Vec<Option<crate::orgs::OrgId>> = if orgs_of_user.is_empty() {
                    vec![None]
                } else {
                    orgs_of_user.into_iter().map(Some).collect()
                };
                for org in orgs_or_none {
                    let entry = Entry {
                        org,
                        actor: Actor::Anonymous,
                        action: "login.failed",
                        target: format!("user:{}", user.id),
                        client: Some(&client),
                        details: serde_json::json!({}),
                    };
                    state.audit.record(&state.db, entry).await?;
                }
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
